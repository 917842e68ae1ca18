// An archive's page: the video, processing controls and live status, every statistic, the track
// timeline, and the events and clusters of each kind.

import { call, session } from "../api.js";
import { bytes, date, duration, emptyState, h, isBusy, progressBar, progressOf, statusChip, toast } from "../dom.js";
import { poll } from "../poll.js";
import { clusterGallery } from "./clusters.js";
import { eventDialog } from "./event-dialog.js";
import { EventGrid } from "./events.js";
import { KINDS, timeline } from "./timeline.js";

const LIVE_EVERY_MS = 1500;

// The statistic as label/value rows; nested objects (objects.face.posted) are flattened.
function statisticRows(statistic, prefix = "") {
  return Object.entries(statistic).flatMap(([name, value]) => {
    const label = `${prefix}${name.replaceAll("_", " ")}`;
    if (value && typeof value === "object") return statisticRows(value, `${label} · `);
    const shown = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(2) : String(value);
    return [h("dt", {}, label), h("dd", {}, shown)];
  });
}

function actionsFor(video, act) {
  if (!session.canWrite) return [];
  if (isBusy(video)) return [h("button", { type: "button", class: "danger", id: "stop", onclick: () => act("stop") }, "Stop")];
  const again = ["COMPLETED", "FAILED", "STOPPED"].includes(video.health_status.status);
  return [h("button", { type: "button", class: "primary", id: "process", disabled: !video.file_size && !video.url,
    onclick: () => act("process") }, again ? "Process again" : "Process")];
}

function statusCard(video) {
  const { fraction, fps, left } = progressOf(video);
  const health = video.health_status;
  const running = health.status === "INPROGRESS";
  return h("div", { class: "card status-card" },
    h("div", { class: "status-line" }, statusChip(health), h("span", { class: "muted" }, health.code_desc)),
    running || health.status === "COMPLETED" ? h("div", { class: "run-progress" }, progressBar(fraction, "Processing progress"),
      h("span", { class: "small" }, running
        ? `${Math.round(fraction * 100)}% · ${fps.toFixed(1)} frames/s · ${left === null ? "…" : duration(left)} left`
        : "100%")) : null,
    health.msg ? h("p", { class: "status-msg" }, health.msg) : null,
    video.error ? h("p", { class: "form-error" }, video.error) : null,
    h("dl", { class: "facts compact" },
      h("dt", {}, "duration"), h("dd", {}, duration(video.source_len)),
      h("dt", {}, "frame"), h("dd", {}, video.frame_width ? `${video.frame_width}×${video.frame_height}` : "–"),
      h("dt", {}, "file"), h("dd", {}, bytes(video.file_size)),
      h("dt", {}, "created"), h("dd", {}, date(video.created_date)),
      h("dt", {}, "camera group"), h("dd", {}, String(video.camera_group)),
      video.processing_start_date ? [h("dt", {}, "processing started"), h("dd", {}, date(video.processing_start_date))] : null));
}

function statisticCard(video) {
  const rows = statisticRows(video.health_status.statistic || {});
  return h("div", { class: "card statistic-card" }, h("h2", {}, "Statistic"),
    rows.length ? h("dl", { class: "facts two-columns" }, rows) : h("p", { class: "muted small" }, "Nothing yet: the archive has not been processed."));
}

// Browsers play MP4 (H.264) and WebM; an AVI or MPEG-4 Part 2 file is processed all the same.
function unplayable(player) {
  const note = h("p", { class: "player-note", hidden: true },
    "This browser cannot play this file's format. Its events, frames and thumbnails are all here; ",
    "the file itself plays in a desktop player.");
  player.addEventListener("error", () => { note.hidden = false; });
  return note;
}

export function archivePage(videoId, openEvent) {
  const player = h("video", { id: "player", controls: true, preload: "metadata", playsinline: true,
    src: `/videos/${videoId}/source/` });
  const title = h("h1", {}, "Archive");
  const actions = h("div", { class: "actions" });
  const status = h("div", { class: "status-slot" });
  const statistic = h("div", { class: "statistic-slot" });
  const timelineSlot = h("div", { class: "timeline-slot" });
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const panel = h("div", { class: "tab-panel", role: "tabpanel" });
  let video = null;
  let active = null;
  // Until the operator picks a tab, the page picks it and may move off an empty one as events come.
  let picked = false;
  let grid = null;
  let lastCounts = "";
  let eventsRefreshed = 0;

  const playFrom = (seconds) => {
    player.currentTime = seconds;
    player.scrollIntoView({ block: "center", behavior: "smooth" });
    player.play().catch(() => {});
  };
  const base = `#/archives/${videoId}`;
  // Closed on an event's own route: back to the archive's; closed by leaving (Add to record opens
  // the record), the new route stays.
  const events = eventDialog(() => { if (location.hash.startsWith(`${base}/`)) history.replaceState(null, "", base); });

  async function act(action) {
    try {
      video = await call(`/videos/${videoId}/${action}/`, { method: "POST" });
      show(video);
    } catch (failure) {
      toast(failure.message, "error");
    }
  }

  function countOf(kind) {
    const [, , single] = KINDS.find(([type]) => type === kind);
    return video ? video[`${single}_count`] : 0;
  }

  function enabled(kind) {
    const [, , single] = KINDS.find(([type]) => type === kind);
    return Boolean(video?.stream_settings.detectors[single]);
  }

  // The tab worth opening: the first kind (face, body, car) that is on and has events; then one
  // that found events in an earlier run though it is off now; then the first kind that is on.
  function preferredTab() {
    const kinds = KINDS.map(([type]) => type);
    return kinds.find((type) => enabled(type) && countOf(type)) || kinds.find((type) => countOf(type))
      || kinds.find(enabled) || kinds[0];
  }

  function showTabs() {
    const clusterCount = KINDS.reduce((sum, [, , single]) => sum + (video?.[`${single}_cluster_count`] || 0), 0);
    const entries = [...KINDS.map(([type, label, single]) => {
      // A kind that is off and found nothing says so, rather than a 0 that reads as "none found".
      const off = !enabled(type) && !countOf(type);
      return [type, off ? [`${label} `, h("span", { class: "tab-off" }, "off")] : `${label} ${countOf(type)}`,
        off ? `No ${single} detection in this archive's settings` : null];
    }), ["clusters", `Clusters ${clusterCount}`, null]];
    tabs.replaceChildren(...entries.map(([type, label, title]) => h("button", { type: "button", role: "tab", class: "tab",
      "aria-selected": String(type === active), title, dataset: { tab: type }, onclick: () => pick(type) }, label)));
  }

  function pick(type, cluster) {
    picked = true;
    return choose(type, cluster);
  }

  async function choose(type, cluster) {
    active = type;
    showTabs();
    if (type === "clusters") {
      const clustered = KINDS.filter(([, , single]) => video?.[`${single}_cluster_count`]);
      const galleries = await Promise.all(clustered.map(async ([kind, label]) => [h("h3", {}, label),
        await clusterGallery(videoId, kind, (number) => pick(kind, number))]));
      panel.replaceChildren(...(galleries.length ? galleries.flat()
        : [emptyState("No clusters", "Clusters appear when a run has finished.")]));
      return;
    }
    grid = new EventGrid(videoId, type);
    if (cluster !== undefined) grid.showCluster(cluster);
    panel.replaceChildren(grid.element);
  }

  // Every kind's tracks, whichever tab is open; a slow answer never replaces a newer one.
  let timelineAsked = 0;
  async function refreshTimeline() {
    if (!video) return;
    const asked = ++timelineAsked;
    const counts = Object.fromEntries(KINDS.map(([type]) => [type, countOf(type)]));
    const shown = await timeline(videoId, counts, video.source_len, playFrom);
    if (asked === timelineAsked) timelineSlot.replaceChildren(shown);
  }

  function show(current) {
    video = current;
    title.textContent = video.name || `Archive ${video.id}`;
    document.title = `${title.textContent} · vidar`;
    actions.replaceChildren(...actionsFor(video, act));
    status.replaceChildren(statusCard(video));
    statistic.replaceChildren(statisticCard(video));
    const counts = KINDS.flatMap(([type, , single]) => [countOf(type), video[`${single}_cluster_count`]])
      .concat(video.health_status.status).join();
    if (counts !== lastCounts) {
      lastCounts = counts;
      // The first events of a run on a page still on an empty tab the operator did not pick.
      if (active && !picked && active !== "clusters" && !countOf(active) && preferredTab() !== active) {
        eventsRefreshed = Date.now();
        choose(preferredTab());
        refreshTimeline();
        return;
      }
      showTabs();
      // New events while a run goes on: the grid and timeline follow, at most every few seconds.
      if (grid && (Date.now() - eventsRefreshed > 4000 || !isBusy(video))) {
        eventsRefreshed = Date.now();
        if (active !== "clusters") grid.load(null);
        refreshTimeline();
      }
    }
  }

  async function load() {
    show(await call(`/videos/${videoId}/`));
  }

  function onRoute(hash) {
    const match = hash.match(/^#\/archives\/\d+\/(faces|bodies|cars)\/(.+)$/);
    if (match) events.open(match[1], decodeURIComponent(match[2]), playFrom).catch((failure) => toast(failure.message, "error"));
    else events.close();
  }

  const element = h("section", { class: "archive" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Archives"), h("span", {}, "/")),
    h("div", { class: "page-head" }, title, actions),
    h("div", { class: "archive-top" },
      h("div", { class: "player-col" }, h("div", { class: "card player-card" }, player, unplayable(player), timelineSlot), statistic),
      status),
    h("div", { class: "card" }, tabs, panel),
    events.dialog);
  element.onRoute = onRoute;

  // A link to an event opens on that event's kind, as if the operator had picked it.
  const first = () => (openEvent ? pick(openEvent.type) : choose(preferredTab()));
  load().then(first).then(() => { refreshTimeline(); if (openEvent) onRoute(location.hash); })
    .catch((failure) => {
      element.replaceChildren(h("div", { class: "card" }, h("h2", {}, "Archive not found"), h("p", {}, failure.message)));
    });
  const stop = poll(load, LIVE_EVERY_MS);
  return { element, title: "Archive", leave: () => { stop(); events.close(); } };
}
