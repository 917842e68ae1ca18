// One bar per track over the video's duration, from the track's posted events (first, best,
// last, realtime): a track posted once (best only) is a short mark at that moment.

import { call } from "../api.js";
import { h, streamTime } from "../dom.js";

// The timeline reads at most this many events (in time order), so a huge archive stays quick.
const MAX_EVENTS = 2000;
const PAGE = 1000;

async function trackSpans(videoId, type) {
  const tracks = new Map();
  let page = null;
  let read = 0;
  do {
    const found = await call(`/events/${type}/`, { params: { video_archive: videoId, ordering: "timestamp", limit: PAGE, page } });
    for (const event of found.results) {
      const span = tracks.get(event.track) || { track: event.track, start: event.stream_time, end: event.stream_time };
      span.start = Math.min(span.start, event.stream_time);
      span.end = Math.max(span.end, event.stream_time);
      tracks.set(event.track, span);
    }
    read += found.results.length;
    page = found.next_page;
  } while (page && read < MAX_EVENTS);
  return { spans: [...tracks.values()], partial: Boolean(page) };
}

export async function timeline(videoId, type, length, seek) {
  const { spans, partial } = await trackSpans(videoId, type);
  if (!spans.length || !length) return h("p", { class: "muted small" }, "No tracks yet.");
  const percent = (seconds) => `${Math.min(100, (seconds / length) * 100)}%`;
  const lanes = spans.map((span) => h("div", { class: "lane" },
    h("button", { type: "button", class: `track-bar kind-${type}`, style: `left:${percent(span.start)};width:calc(${percent(span.end - span.start)} + 4px)`,
      title: `Track ${span.track}: ${streamTime(span.start)}–${streamTime(span.end)}`,
      "aria-label": `Track ${span.track} from ${streamTime(span.start)}: play`, onclick: () => seek(span.start) })));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((at) => h("span", { style: `left:${at * 100}%` }, streamTime(at * length)));
  return h("div", { class: "timeline" },
    h("div", { class: "timeline-head" }, h("strong", {}, `${spans.length} track${spans.length === 1 ? "" : "s"}`),
      partial ? h("span", { class: "muted small" }, ` (first ${MAX_EVENTS} events)`) : null),
    h("div", { class: "lanes" }, lanes), h("div", { class: "ticks" }, ticks));
}
