// One event: its full frame with the box drawn, the thumbnail, its details and "play from here".

import { call, postForm, session } from "../api.js";
import { authImage, h, releaseImages, streamTime, toast } from "../dom.js";
import { attributeFacts } from "./attributes.js";
import { RECORD_TYPE_OF, createRecord, recordFields, recordName } from "./records.js";
import { watchLists } from "./watch-lists.js";

const KINDS = { faces: "Face", bodies: "Body", cars: "Car" };
const SINGULAR = { faces: "face", bodies: "body", cars: "car" };
const NEW_RECORD = "new";

// The box as percentages of the frame, so it stays on the object at any displayed size.
function drawBox(frame, bbox) {
  const image = frame.querySelector("img");
  const place = () => {
    const [left, top, right, bottom] = bbox;
    const [width, height] = [image.naturalWidth, image.naturalHeight];
    frame.append(h("div", { class: "bbox", style:
      `left:${(left / width) * 100}%;top:${(top / height) * 100}%;width:${((right - left) / width) * 100}%;height:${((bottom - top) / height) * 100}%` }));
  };
  image.addEventListener("load", place, { once: true });
}

function detail(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

// The record the event matched, as a link to its page.
function matchFacts(type, event) {
  if (!event.matched) return detail("Match", "none");
  const recordType = RECORD_TYPE_OF[type];
  const confidence = event.confidence === null ? "" : ` (${event.confidence.toFixed(2)})`;
  const link = h("a", { href: `#/records/${recordType}/${event.matched_card}`, class: "matched-record" }, `Record ${event.matched_card}`);
  // A deleted record keeps its matches as history: the link then keeps its number.
  call(`/cards/${recordType}/${event.matched_card}/`).then((card) => { link.textContent = recordName(card); }).catch(() => {});
  return detail("Match", [link, confidence]);
}

// "Add to record": the event becomes a photo of a record, an existing one or one made here.
function addToRecord(type, event) {
  const recordType = RECORD_TYPE_OF[type];
  const search = h("input", { type: "search", placeholder: "Search records", "aria-label": "Search records", class: "wide" });
  const choice = h("select", { name: "card", "aria-label": "Record", class: "wide" });
  const fresh = h("div", { class: "new-record" });
  const form = h("form", { class: "form add-to-record-form" }, search, choice, fresh,
    h("button", { type: "submit", class: "primary wide" }, "Add to record"));
  let lists = [];

  async function fill() {
    const found = await call(`/cards/${recordType}/`, { params: { name_contains: search.value, limit: 50 } });
    choice.replaceChildren(h("option", { value: NEW_RECORD }, "New record…"),
      ...found.results.map((card) => h("option", { value: card.id }, recordName(card))));
    showFresh();
  }
  function showFresh() {
    fresh.replaceChildren(...(choice.value === NEW_RECORD ? recordFields(lists) : []));
  }
  choice.addEventListener("change", showFresh);
  search.addEventListener("input", () => fill().catch((failure) => toast(failure.message, "error")));
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    try {
      const card = choice.value === NEW_RECORD ? await createRecord(recordType, form) : { id: Number(choice.value) };
      await postForm(`/objects/${type}/`, { card: String(card.id), create_from: `${SINGULAR[type]}event:${event.id}` });
      toast("Added to the record", "success");
      location.hash = `#/records/${recordType}/${card.id}`;
    } catch (failure) {
      toast(failure.message, "error");
    }
  });
  watchLists().then((found) => { lists = found; return fill(); }).catch((failure) => toast(failure.message, "error"));
  return h("details", { class: "add-to-record" }, h("summary", {}, "Add to record"), form);
}

export function eventDialog(onClose) {
  const body = h("div", { class: "dialog-body" });
  const dialog = h("dialog", { class: "event-dialog", "aria-labelledby": "event-title" },
    h("div", { class: "dialog-head" }, h("h2", { id: "event-title" }, "Event"),
      h("button", { type: "button", class: "ghost icon", "aria-label": "Close", onclick: () => dialog.close() }, "✕")),
    body);
  dialog.addEventListener("close", () => { releaseImages(body); onClose(); });

  async function open(type, eventId, playFrom) {
    body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    if (!dialog.open) dialog.showModal();
    const event = await call(`/events/${type}/${encodeURIComponent(eventId)}/`);
    const frame = authImage(event.full_frame, "Full frame", "full-frame");
    drawBox(frame, event.bbox);
    const play = h("button", { type: "button", class: "primary", id: "play-from-here",
      onclick: () => { dialog.close(); playFrom(event.stream_time); } }, "▶ Play from here");
    dialog.querySelector("h2").textContent = `${KINDS[type]} at ${streamTime(event.stream_time)}`;
    body.replaceChildren(
      h("div", { class: "frame-wrap" }, frame),
      h("aside", { class: "event-side" }, authImage(event.thumbnail, "Thumbnail", "event-thumb"),
        h("dl", { class: "facts" },
          detail("Stream time", `${streamTime(event.stream_time)} (${event.stream_time.toFixed(2)} s)`),
          detail("Frame", String(event.frame)),
          detail("Track", event.track),
          detail("Posted", event.post),
          detail("Quality", event.quality.toFixed(3)),
          detail("Cluster", event.cluster === null ? "not clustered yet" : `#${event.cluster}`),
          matchFacts(type, event),
          event.acknowledged === true ? detail("Acknowledged", `by ${event.acknowledged_by} · ${new Date(event.acknowledged_date).toLocaleString()}`) : null,
          event.acknowledged === false ? detail("Acknowledged", "not yet") : null,
          attributeFacts(type, event.features).flatMap(([label, value]) => detail(label, value)),
          detail("Box", event.bbox.map(Math.round).join(", ")),
          detail("Recorded", new Date(event.created_date).toLocaleString())),
        play, session.canWrite ? addToRecord(type, event) : null));
    play.focus();
  }

  return { dialog, open, close: () => dialog.open && dialog.close() };
}
