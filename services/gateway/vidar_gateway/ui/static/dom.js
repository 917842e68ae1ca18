// Small helpers: building elements, formatting numbers and times, the shared widgets.

import { imageUrl } from "./api.js";

// h("a", {href: "#/"}, "text", child): attributes starting with "on" become listeners.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const whole = Math.max(0, Math.round(seconds));
  const [hours, minutes, secs] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const two = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${two(minutes)}:${two(secs)}` : `${minutes}:${two(secs)}`;
}

// Seconds with tenths, for event times in a video: 0:04.4
export function streamTime(seconds) {
  const tenths = Math.round((seconds % 60) * 10) / 10;
  return `${Math.floor(seconds / 60)}:${tenths.toFixed(1).padStart(4, "0")}`;
}

export function bytes(count) {
  if (!count) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const power = Math.min(units.length - 1, Math.floor(Math.log(count) / Math.log(1000)));
  const value = count / 1000 ** power;
  return `${value >= 100 || power === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[power]}`;
}

export function date(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const STATUS_TEXT = {
  WAITING_FOR_SYNC: "Waiting for sync",
  NOT_STARTED: "Not started",
  QUEUED: "Queued",
  INPROGRESS: "Processing",
  COMPLETED: "Completed",
  FAILED: "Failed",
  STOPPED: "Stopped",
};
export const STATUSES = Object.keys(STATUS_TEXT);
export const statusText = (status) => STATUS_TEXT[status] || status;

export function statusChip(health) {
  return h("span", { class: `chip chip-${health.code}`, title: health.code_desc, "data-status": health.status },
    statusText(health.status));
}

// How far a run is, from its statistic: the share of the video done, frames/s and time left.
export function progressOf(video) {
  const statistic = video.health_status.statistic || {};
  const done = statistic.processed_duration || 0;
  const total = video.source_len || 0;
  const fraction = total ? Math.min(1, done / total) : 0;
  const fps = statistic.processing_fps || 0;
  // Frames per second of video, from what was decoded so far, turns frames/s into media seconds/s.
  const videoFps = done ? (statistic.frames_processed || 0) / done : 0;
  const left = fps && videoFps ? (total - done) / (fps / videoFps) : null;
  return { fraction, fps, left };
}

export function progressBar(fraction, label) {
  const percent = Math.round(fraction * 100);
  return h("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
    "aria-valuenow": percent, "aria-label": label },
  h("div", { class: "progress-fill", style: `width:${percent}%` }));
}

export function isBusy(video) {
  return ["QUEUED", "INPROGRESS", "WAITING_FOR_SYNC"].includes(video.health_status.status) || video.active;
}

// An <img> whose source is fetched with the token; a placeholder stays when there is none yet.
export function authImage(url, alt, className = "") {
  const image = h("img", { alt, class: className, decoding: "async" });
  const holder = h("div", { class: `image-holder ${className}-holder` }, image);
  if (url) {
    imageUrl(url).then((objectUrl) => {
      image.src = objectUrl;
      image.addEventListener("load", () => holder.classList.add("loaded"), { once: true });
      image.dataset.objectUrl = objectUrl;
    }).catch(() => holder.classList.add("missing"));
  } else {
    holder.classList.add("missing");
  }
  return holder;
}

// Frees the object URLs of the images under `root` before it is thrown away.
export function releaseImages(root) {
  for (const image of root.querySelectorAll("img[data-object-url]")) URL.revokeObjectURL(image.dataset.objectUrl);
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.replaceChildren(h("div", { class: `toast toast-${kind}` }, message));
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.replaceChildren(), 5000);
}

export function emptyState(title, text) {
  return h("div", { class: "empty" }, h("h3", {}, title), h("p", {}, text));
}
