// One bar per track over the video's duration, from the track's posted events (first, best,
// last, realtime): a track posted once (best only) is a short mark at that moment. Every kind's
// tracks show together, each kind in its colour and named in the legend, whichever tab is open.

import { call } from "../api.js";
import { h, streamTime } from "../dom.js";

// Each kind as the API's path names it, as the page shows it, and as the archive's fields name it.
export const KINDS = [["faces", "Faces", "face"], ["bodies", "Bodies", "body"], ["cars", "Cars", "car"]];

// The timeline reads at most this many events of each kind (in time order), so a huge archive stays quick.
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

// Tracks that do not overlap share a lane, this share of the video apart, so that a street's
// dozens of short tracks fit the box instead of one lane each.
const MIN_GAP = 0.02;

// Spans into lanes, first fit in order of start: each span joins the first lane it does not overlap.
function packed(spans, gap) {
  const lanes = [];
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const lane = lanes.find((spansIn) => spansIn.at(-1).end + gap < span.start);
    if (lane) lane.push(span);
    else lanes.push([span]);
  }
  return lanes;
}

const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

// `counts`: the archive's events of each kind ({faces: 0, bodies: 6, ...}); kinds with none are not read.
export async function timeline(videoId, counts, length, seek) {
  const read = await Promise.all(KINDS.filter(([type]) => counts[type]).map(async ([type, label, single]) =>
    ({ type, label, single, ...(await trackSpans(videoId, type)) })));
  const kinds = read.filter(({ spans }) => spans.length);
  if (!kinds.length || !length) return h("p", { class: "muted small" }, "No tracks yet.");
  const percent = (seconds) => `${Math.min(100, (seconds / length) * 100)}%`;
  const bar = (type, single, span) => {
    const name = `${single[0].toUpperCase()}${single.slice(1)} track ${span.track}`;
    return h("button", { type: "button", class: `track-bar kind-${type}`, style: `left:${percent(span.start)};width:calc(${percent(span.end - span.start)} + 4px)`,
      title: `${name}: ${streamTime(span.start)}–${streamTime(span.end)}`,
      "aria-label": `${name} from ${streamTime(span.start)}: play`, onclick: () => seek(span.start) });
  };
  const lanes = kinds.flatMap(({ type, single, spans }, group) => packed(spans, length * MIN_GAP).map((lane, index) =>
    // A rule between one kind's lanes and the next kind's.
    h("div", { class: group && !index ? "lane next-kind" : "lane", dataset: { kind: type } },
      lane.map((span) => bar(type, single, span)))));
  const legend = h("ul", { class: "timeline-legend", "aria-label": "Tracks by kind" }, kinds.map(({ type, label, spans, partial }) =>
    h("li", { dataset: { kind: type } }, h("span", { class: `swatch kind-${type}`, "aria-hidden": "true" }),
      `${label} `, h("span", { class: "muted" }, plural(spans.length, "track")),
      partial ? h("span", { class: "muted" }, ` (first ${MAX_EVENTS} events)`) : null)));
  const total = kinds.reduce((sum, { spans }) => sum + spans.length, 0);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((at) => h("span", { style: `left:${at * 100}%` }, streamTime(at * length)));
  return h("div", { class: "timeline" },
    h("div", { class: "timeline-head" }, h("strong", {}, plural(total, "track")), legend),
    h("div", { class: "lanes" }, lanes), h("div", { class: "ticks" }, ticks));
}
