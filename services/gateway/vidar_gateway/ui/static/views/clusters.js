// The archive's clusters of one kind as a gallery: each cluster's best event and its size,
// largest first; choosing one shows its events.

import { call } from "../api.js";
import { authImage, emptyState, h, streamTime } from "../dom.js";

const PAGE_SIZE = 60;

export async function clusterGallery(videoId, type, onChoose) {
  const grid = h("div", { class: "cluster-grid" });
  const more = h("button", { type: "button", class: "ghost", hidden: true }, "Load more");
  async function load(page) {
    const found = await call(`/clusters/${type}/`, { params: { video_archive: videoId, ordering: "-size", limit: PAGE_SIZE, page } });
    grid.append(...found.results.map((cluster) => h("button", { type: "button", class: "cluster-card",
      onclick: () => onChoose(cluster.cluster), "aria-label": `Cluster ${cluster.cluster}, ${cluster.size} events: show them` },
    authImage(cluster.best_event?.thumbnail, "", "thumb"),
    h("span", { class: "event-meta" }, h("strong", {}, `#${cluster.cluster}`), h("span", {}, `${cluster.size} event${cluster.size === 1 ? "" : "s"}`)),
    cluster.best_event ? h("span", { class: "muted small" }, `best at ${streamTime(cluster.best_event.stream_time)}`) : null)));
    if (!grid.children.length) grid.append(emptyState("No clusters", "Clusters appear when a run has finished."));
    more.hidden = !found.next_page;
    more.onclick = () => load(found.next_page);
  }
  await load(null);
  return h("div", { class: "clusters" }, grid, h("div", { class: "pager" }, more));
}
