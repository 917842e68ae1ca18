// The archives list: filters in the URL's hash, newest first, cursor paging, live progress rows.

import { call, cameraGroups, session } from "../api.js";
import {
  STATUSES, authImage, bytes, date, duration, emptyState, h, isBusy, progressBar, progressOf, statusChip, statusText,
} from "../dom.js";
import { poll } from "../poll.js";

const PAGE_SIZE = 20;
const LIVE_EVERY_MS = 2000;

function filtersFromHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.split("?")[1] || ""));
}

// Date inputs give a day; the API bounds are instants, read in the gateway's time zone.
function apiParams(filters, page) {
  return {
    limit: PAGE_SIZE,
    ordering: "-id",
    page,
    name_contains: filters.name,
    status_in: filters.status,
    camera_groups: filters.group,
    created_date_gte: filters.from,
    created_date_lte: filters.to && `${filters.to}T23:59:59.999`,
  };
}

function liveCell(video) {
  if (!isBusy(video)) return statusChip(video.health_status);
  const { fraction, fps, left } = progressOf(video);
  const detail = video.health_status.status === "INPROGRESS"
    ? `${Math.round(fraction * 100)}% · ${fps.toFixed(1)} frames/s · ${left === null ? "…" : duration(left)} left`
    : statusText(video.health_status.status);
  return h("div", { class: "live" }, statusChip(video.health_status), progressBar(fraction, `Progress of ${video.name}`),
    h("span", { class: "live-detail" }, detail));
}

function row(video) {
  const link = `#/archives/${video.id}`;
  return h("tr", { dataset: { id: video.id } },
    h("td", { class: "shot-cell" }, h("a", { href: link, tabindex: -1, "aria-hidden": "true" },
      authImage(video.source_len ? video.screenshot : null, "", "shot"))),
    h("td", {}, h("a", { href: link, class: "title-link" }, video.name || `Archive ${video.id}`),
      h("div", { class: "muted small" }, `#${video.id} · ${date(video.created_date)} · ${bytes(video.file_size)}`)),
    h("td", { class: "num" }, duration(video.source_len)),
    h("td", { class: "num" }, video.frame_width ? `${video.frame_width}×${video.frame_height}` : "–"),
    h("td", { class: "status-cell" }, liveCell(video)),
    h("td", { class: "num" }, String(video.face_count)),
    h("td", { class: "num" }, String(video.body_count)),
    h("td", { class: "num" }, String(video.car_count)));
}

function filterBar(filters, groups, apply) {
  const name = h("input", { type: "search", name: "name", placeholder: "Search by name", value: filters.name || "",
    "aria-label": "Search by name" });
  const status = h("select", { name: "status", "aria-label": "Status" }, h("option", { value: "" }, "Any status"),
    STATUSES.map((value) => h("option", { value, selected: filters.status === value }, statusText(value))));
  const group = h("select", { name: "group", "aria-label": "Camera group" }, h("option", { value: "" }, "Any camera group"),
    groups.map((item) => h("option", { value: item.id, selected: filters.group === String(item.id) }, item.name)));
  const from = h("input", { type: "date", name: "from", value: filters.from || "", "aria-label": "Created from" });
  const to = h("input", { type: "date", name: "to", value: filters.to || "", "aria-label": "Created until" });
  const form = h("form", { class: "filters", role: "search" }, name, status, group,
    h("label", { class: "inline" }, "From", from), h("label", { class: "inline" }, "to", to),
    h("button", { type: "reset", class: "ghost" }, "Clear"));
  let typing = null;
  const submit = () => apply(Object.fromEntries([...new FormData(form)].filter(([, value]) => value)));
  form.addEventListener("input", (event) => {
    clearTimeout(typing);
    typing = setTimeout(submit, event.target === name ? 300 : 0);
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  form.addEventListener("reset", () => setTimeout(submit));
  return form;
}

export function archivesPage() {
  const filters = filtersFromHash();
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const table = h("table", { class: "archives" },
    h("thead", {}, h("tr", {}, h("th", { class: "shot-cell" }, h("span", { class: "sr-only" }, "Screenshot")),
      h("th", {}, "Name"), h("th", { class: "num" }, "Duration"), h("th", { class: "num" }, "Frame"),
      h("th", {}, "Status"), h("th", { class: "num" }, "Faces"), h("th", { class: "num" }, "Bodies"),
      h("th", { class: "num" }, "Cars"))),
    body);
  const listing = h("div", { class: "card table-card" }, table, pager);
  const head = h("div", { class: "page-head" }, h("h1", {}, "Archives"),
    session.canWrite ? h("a", { class: "button primary", href: "#/new" }, "New archive") : null);
  const element = h("section", {}, head, h("div", { class: "filters-slot" }), listing);
  let cursor = null;
  let shown = new Map();

  function apply(next) {
    const query = new URLSearchParams(next).toString();
    history.replaceState(null, "", query ? `#/?${query}` : "#/");
    Object.keys(filters).forEach((key) => delete filters[key]);
    Object.assign(filters, next);
    cursor = null;
    load();
  }

  function showPager(page) {
    const go = (to) => () => { cursor = to; load(); };
    pager.replaceChildren(
      h("button", { type: "button", class: "ghost", disabled: !page.prev_page, onclick: go(page.prev_page) }, "← Newer"),
      h("button", { type: "button", class: "ghost", disabled: !page.next_page, onclick: go(page.next_page) }, "Older →"));
  }

  // A row is rebuilt only when its archive changed, so screenshots are not fetched again.
  function showRows(results) {
    const next = new Map(results.map((video) => [video.id, JSON.stringify(video)]));
    body.replaceChildren(...results.map((video) => {
      const existing = body.querySelector(`tr[data-id="${video.id}"]`);
      return existing && shown.get(video.id) === next.get(video.id) ? existing : row(video);
    }));
    shown = next;
    if (!results.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 8 },
        emptyState("No archives", Object.keys(filters).length ? "Nothing matches these filters." :
          "Create an archive and upload a video to start."))));
    }
  }

  async function load() {
    const page = await call("/videos/", { params: apiParams(filters, cursor) });
    showRows(page.results);
    showPager(page);
  }

  cameraGroups().then((groups) => element.querySelector(".filters-slot").replaceWith(filterBar(filters, groups, apply)));
  load();
  const stop = poll(load, LIVE_EVERY_MS);
  return { element, title: "Archives", leave: stop };
}
