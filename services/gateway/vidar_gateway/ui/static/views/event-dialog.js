// One event: its full frame with the box drawn, the thumbnail, its details and "play from here".

import { call } from "../api.js";
import { authImage, h, releaseImages, streamTime } from "../dom.js";
import { attributeFacts } from "./attributes.js";

const KINDS = { faces: "Face", bodies: "Body", cars: "Car" };

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
          attributeFacts(type, event.features).flatMap(([label, value]) => detail(label, value)),
          detail("Box", event.bbox.map(Math.round).join(", ")),
          detail("Recorded", new Date(event.created_date).toLocaleString())),
        play));
    play.focus();
  }

  return { dialog, open, close: () => dialog.open && dialog.close() };
}
