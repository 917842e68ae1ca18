// An archive's events of one kind as a thumbnail grid: best first or by time, filtered by cluster,
// quality and what was seen (age, gender, colours, plate...), a page at a time (an archive may hold
// tens of thousands).

import { ApiError, call } from "../api.js";
import { authImage, emptyState, h, releaseImages, streamTime, toast } from "../dom.js";
import { attributeBadges, attributeControls, attributeSummary } from "./attributes.js";

const PAGE_SIZE = 60;
const ORDERS = [["-quality", "Best first"], ["timestamp", "By time"]];

export function eventCard(videoId, type, event) {
  return h("a", { class: "event-card", href: `#/archives/${videoId}/${type}/${encodeURIComponent(event.id)}`,
    dataset: { eventId: event.id }, "aria-label": [`Event at ${streamTime(event.stream_time)}`, `quality ${event.quality.toFixed(2)}`,
      attributeSummary(event.features)].filter(Boolean).join(", ") },
  authImage(event.thumbnail, "", "thumb"),
  h("span", { class: "event-meta" }, h("span", {}, streamTime(event.stream_time)),
    h("span", { class: "quality" }, event.quality.toFixed(2))),
  attributeBadges(type, event.features),
  event.cluster !== null ? h("span", { class: "cluster-tag" }, `#${event.cluster}`) : null);
}

export class EventGrid {
  constructor(videoId, type) {
    this.videoId = videoId;
    this.type = type;
    this.filters = { ordering: "-quality", cluster: "", quality_gte: "" };
    this.grid = h("div", { class: "event-grid" });
    this.more = h("button", { type: "button", class: "ghost", hidden: true, onclick: () => this.load(this.next) }, "Load more");
    this.summary = h("span", { class: "muted small" });
    this.element = h("div", { class: "events" }, this.toolbar(), this.grid, h("div", { class: "pager" }, this.more));
    this.load(null);
  }

  toolbar() {
    const order = h("select", { "aria-label": "Order", name: "ordering" },
      ORDERS.map(([value, label]) => h("option", { value }, label)));
    this.cluster = h("input", { type: "number", min: 0, name: "cluster", placeholder: "Any", class: "short",
      "aria-label": "Cluster" });
    const quality = h("input", { type: "number", min: 0, max: 1, step: 0.05, name: "quality_gte", placeholder: "0.00",
      class: "short", "aria-label": "Minimum quality" });
    const bar = h("form", { class: "toolbar" }, h("label", { class: "inline" }, "Order", order),
      h("label", { class: "inline" }, "Cluster", this.cluster), h("label", { class: "inline" }, "Quality ≥", quality),
      h("div", { class: "attribute-filters", role: "group", "aria-label": "What was seen" }, attributeControls(this.type)),
      this.summary);
    // Every control is named as its API filter; an empty one is left out of the request.
    bar.addEventListener("change", () => {
      this.filters = Object.fromEntries(new FormData(bar));
      this.load(null).catch((failure) => toast(failure instanceof ApiError ? failure.message : String(failure), "error"));
    });
    bar.addEventListener("submit", (event) => event.preventDefault());
    return bar;
  }

  showCluster(cluster) {
    this.cluster.value = cluster;
    this.cluster.form.dispatchEvent(new Event("change"));
  }

  // `page` null starts again from the first page; a cursor appends the next one.
  async load(page) {
    const params = { video_archive: this.videoId, limit: PAGE_SIZE, page, ...this.filters };
    const [found, count] = await Promise.all([
      call(`/events/${this.type}/`, { params }),
      page ? null : call(`/events/${this.type}/count/`, { params: { ...params, limit: undefined, ordering: undefined } }),
    ]);
    if (!page) {
      releaseImages(this.grid);
      this.grid.replaceChildren();
      this.total = count.count;
    }
    this.grid.append(...found.results.map((event) => eventCard(this.videoId, this.type, event)));
    if (!this.grid.children.length) this.grid.append(emptyState("No events", "Nothing was found, or nothing matches the filters."));
    this.next = found.next_page;
    this.more.hidden = !this.next;
    this.summary.textContent = `${this.grid.querySelectorAll(".event-card").length} of ${this.total}`;
  }
}
