// Alerts: events matched with a record, of every kind, newest first (`GET /alerts/`), in pages
// with the lists' cursors; the page shown is read again every few seconds, so the first one takes
// new alerts live. An event whose
// list asks for acknowledgement (`acknowledged: false`) has a button for it, which sets the event's
// `acknowledged`, `acknowledged_by` and `acknowledged_date` through
// `POST /events/<kind>/<id>/acknowledge/`. A gateway without that route (404) only shows alerts.

import { ApiError, call, session } from "../api.js";
import { authImage, date, emptyState, h, streamTime, toast } from "../dom.js";
import { poll } from "../poll.js";
import { eventDialog } from "./event-dialog.js";
import { RECORD_TYPE_OF, recordName } from "./records.js";
import { listChip, watchLists } from "./watch-lists.js";

const PAGE_SIZE = 30;
const LIVE_EVERY_MS = 3000;

// One page of alerts; each event's `kind` is its list's path (faces, bodies, cars), as the dialogs take it.
async function readAlerts(page) {
  const found = await call("/alerts/", { params: { limit: PAGE_SIZE, page } });
  return { ...found, results: found.results.map((event) => ({ ...event, kind: event.object_type })) };
}

// The names of the records these events matched (by record type and id) and of their archives (by id).
async function namesOf(events) {
  const names = new Map();
  const archives = [...new Set(events.map((event) => event.video_archive))];
  if (archives.length) {
    const found = await call("/videos/", { params: { id_in: archives.join(","), limit: archives.length } });
    for (const video of found.results) names.set(video.id, video.name || `Archive ${video.id}`);
  }
  await Promise.all(["humans", "cars"].map(async (type) => {
    const ids = [...new Set(events.filter((event) => RECORD_TYPE_OF[event.kind] === type).map((event) => event.matched_card))];
    if (!ids.length) return;
    const found = await call(`/cards/${type}/`, { params: { id_in: ids.join(","), limit: ids.length } });
    for (const card of found.results) names.set(`${type}/${card.id}`, recordName(card));
  }));
  return names;
}

// The gateway says so (`acknowledged: false`); one without acknowledgement has no such field,
// and then the lists say whether they ask for it.
function needsAcknowledging(event, matchedLists) {
  if (event.acknowledged !== undefined) return event.acknowledged === false;
  return matchedLists.some((matched) => matched.acknowledge);
}

export function alertsPage() {
  const list = h("ol", { class: "alerts", "aria-label": "Matched events, newest first" });
  const summary = h("span", { class: "muted small", "aria-live": "polite" });
  const events = eventDialog(() => {});
  const pager = h("div", { class: "pager" });
  const element = h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Alerts"), summary),
    h("div", { class: "card" }, list, pager), events.dialog);
  let lists = [];
  // The cursor of the page shown: null, the newest.
  let current = null;
  let acknowledging = true;
  let shown = new Map();

  const openEvent = (event) => events.open(event.kind, event.id,
    () => { location.hash = `#/archives/${event.video_archive}/${event.kind}/${encodeURIComponent(event.id)}`; })
    .catch((failure) => toast(failure.message, "error"));

  async function acknowledge(event) {
    try {
      await call(`/events/${event.kind}/${encodeURIComponent(event.id)}/acknowledge/`, { method: "POST" });
      toast("Acknowledged", "success");
    } catch (failure) {
      // A 404 naming no parameter (not the event's id): a gateway without the acknowledge route.
      if (failure instanceof ApiError && failure.status === 404 && !failure.param) acknowledging = false;
      toast(acknowledging ? failure.message : "This gateway cannot acknowledge alerts yet", "error");
    }
    await load();
  }

  function acknowledgement(event, matchedLists) {
    if (event.acknowledged) {
      const by = event.acknowledged_by ? ` by ${event.acknowledged_by}` : "";
      const when = event.acknowledged_date ? ` · ${date(event.acknowledged_date)}` : "";
      return h("span", { class: "chip chip-green" }, `Acknowledged${by}${when}`);
    }
    if (!needsAcknowledging(event, matchedLists)) return null;
    if (!acknowledging || !session.canWrite) return h("span", { class: "chip chip-yellow" }, "To acknowledge");
    return h("button", { type: "button", class: "primary", onclick: () => acknowledge(event) }, "Acknowledge");
  }

  function item(event, names) {
    const recordType = RECORD_TYPE_OF[event.kind];
    const matchedLists = event.matched_lists.map((id) => lists.find((found) => found.id === id) || { id, name: `#${id}` });
    const colour = matchedLists.find((found) => found.color)?.color;
    return h("li", { class: "alert", dataset: { eventId: event.id, kind: event.kind }, style: colour ? `border-left-color:#${colour}` : null },
      h("button", { type: "button", class: "alert-thumb", "aria-label": "Open the event", onclick: () => openEvent(event) },
        authImage(event.thumbnail, "", "thumb")),
      h("div", { class: "alert-main" },
        h("a", { class: "title-link alert-record", href: `#/records/${recordType}/${event.matched_card}` },
          names.get(`${recordType}/${event.matched_card}`) || `Record ${event.matched_card}`),
        h("div", { class: "chips" }, matchedLists.map(listChip)),
        h("div", { class: "muted small" },
          h("a", { href: `#/archives/${event.video_archive}/${event.kind}/${encodeURIComponent(event.id)}` }, names.get(event.video_archive) || `Archive ${event.video_archive}`),
          ` · ${event.kind} at ${streamTime(event.stream_time)} · ${date(event.created_date)}`)),
      h("div", { class: "alert-side" },
        h("span", { class: "confidence", title: "Confidence" }, event.confidence === null ? "–" : event.confidence.toFixed(2)),
        acknowledgement(event, matchedLists)));
  }

  // An alert is rebuilt only when its event changed, so thumbnails are not fetched again.
  async function load() {
    const page = await readAlerts(current);
    const found = page.results;
    const names = await namesOf(found);
    const next = new Map(found.map((event) => [event.id, JSON.stringify([event, names.get(`${RECORD_TYPE_OF[event.kind]}/${event.matched_card}`)])]));
    list.replaceChildren(...found.map((event) => {
      const existing = list.querySelector(`li[data-event-id="${CSS.escape(event.id)}"]`);
      return existing && shown.get(event.id) === next.get(event.id) ? existing : item(event, names);
    }));
    shown = next;
    if (!found.length) list.append(h("li", {}, emptyState("No alerts", "Events matched with a record on a watch list show here as they come.")));
    summary.textContent = current ? `${found.length} on this page` : `${found.length} latest`;
    pager.replaceChildren(
      h("button", { type: "button", class: "ghost", disabled: !page.prev_page, onclick: () => turn(page.prev_page) }, "← Newer"),
      h("button", { type: "button", class: "ghost", disabled: !page.next_page, onclick: () => turn(page.next_page) }, "Older →"));
  }

  function turn(page) {
    current = page;
    load().catch((failure) => toast(failure.message, "error"));
  }

  watchLists().then((found) => { lists = found; return load(); }).catch((failure) => toast(failure.message, "error"));
  const stop = poll(load, LIVE_EVERY_MS);
  return { element, title: "Alerts", leave: () => { stop(); events.close(); } };
}
