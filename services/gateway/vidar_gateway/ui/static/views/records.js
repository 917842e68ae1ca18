// Records (FindFace's "cards") of people and cars: the list with search by name and by watch
// list, and a record's page with its photos, its lists and its appearances in every archive.

import { ApiError, call, postForm, session } from "../api.js";
import { authImage, emptyState, h, releaseImages, streamTime, toast } from "../dom.js";
import { eventDialog } from "./event-dialog.js";
import { listChip, watchLists } from "./watch-lists.js";

// Each record type: its title, and the event kinds (as paths, and as create_from names) of its photos.
export const RECORD_TYPES = {
  humans: { title: "People", one: "person", kinds: [["faces", "face", "Face"], ["bodies", "body", "Body"]] },
  cars: { title: "Cars", one: "car", kinds: [["cars", "car", "Car"]] },
};
// The record type whose photos an event kind gives.
export const RECORD_TYPE_OF = { faces: "humans", bodies: "humans", cars: "cars" };

const PAGE_SIZE = 30;
// A page of a record's appearances: its events of every kind, newest first.
const APPEARANCES_PAGE = 100;

export const recordName = (card) => card.name || `Record ${card.id}`;

function photoCount(type, card) {
  return RECORD_TYPES[type].kinds.reduce((sum, [, single]) => sum + (card[`${single}_objects`] || 0), 0);
}

// A record's fields: a new one's name and lists (at least one; the first is checked), or, for
// `card`, its own with its comment and whether it is active. For the records pages and "Add to record".
export function recordFields(lists, card = null) {
  return [
    h("label", { class: "field" }, "Name", h("input", { name: "name", required: true, maxlength: 256, value: card?.name || "" })),
    card ? h("label", { class: "field" }, "Comment", h("input", { name: "comment", value: card.comment || "" })) : null,
    card ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "active", checked: card.active }), "Active") : null,
    h("fieldset", {}, h("legend", { class: "small" }, "Watch lists"),
      h("div", { class: "checks" }, lists.map((list, index) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "watch_lists", value: list.id,
          checked: card ? card.watch_lists.includes(list.id) : index === 0 }), listChip(list))))),
  ].filter(Boolean);
}

// The fields of a form of recordFields, as the API takes them.
function recordBody(form) {
  const data = new FormData(form);
  const body = { name: data.get("name").trim(), watch_lists: data.getAll("watch_lists").map(Number) };
  if (data.has("comment")) Object.assign(body, { comment: data.get("comment"), active: data.has("active") });
  return body;
}

export async function createRecord(type, form) {
  return call(`/cards/${type}/`, { method: "POST", body: recordBody(form) });
}

export function recordsPage(type) {
  const kind = RECORD_TYPES[type];
  const body = h("tbody");
  const pager = h("div", { class: "pager" });
  const creator = h("dialog", { class: "form-dialog", "aria-label": `New ${kind.one}` });
  const search = h("input", { type: "search", name: "name_contains", placeholder: "Search by name", "aria-label": "Search by name" });
  const listFilter = h("select", { name: "watch_lists", "aria-label": "Watch list" }, h("option", { value: "" }, "Any watch list"));
  const filters = h("form", { class: "filters", role: "search" }, search, listFilter);
  const create = h("button", { type: "button", class: "primary", "data-write": true, onclick: () => showCreator() }, `New ${kind.one}`);
  const tabs = h("nav", { class: "tabs", "aria-label": "Record types" }, Object.entries(RECORD_TYPES).map(([other, { title }]) =>
    h("a", { class: "tab", href: `#/records/${other}`, "aria-selected": String(other === type) }, title)));
  const element = h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Records"), session.canWrite ? create : null),
    h("div", { class: "card" }, tabs, filters,
      h("table", { class: "archives" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Watch lists"),
        h("th", { class: "num" }, "Photos"), h("th", {}, "Active"))), body), pager),
    creator);
  let lists = [];

  function showCreator() {
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h("form", { class: "form" }, recordFields(lists), error,
      h("div", { class: "actions" }, h("button", { type: "button", class: "ghost", onclick: () => creator.close() }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Create")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const card = await createRecord(type, form);
        creator.close();
        location.hash = `#/records/${type}/${card.id}`;
      } catch (failure) {
        error.textContent = failure.message;
      }
    });
    creator.replaceChildren(h("h2", {}, `New ${kind.one}`), form);
    creator.showModal();
  }

  function row(card) {
    const link = `#/records/${type}/${card.id}`;
    return h("tr", { dataset: { id: card.id } },
      h("td", {}, h("a", { href: link, class: "title-link" }, recordName(card)),
        card.comment ? h("div", { class: "muted small" }, card.comment) : null),
      h("td", {}, h("span", { class: "chips" }, card.watch_lists.map((id) => {
        const list = lists.find((item) => item.id === id);
        return list ? listChip(list) : `#${id}`;
      }))),
      h("td", { class: "num" }, String(photoCount(type, card))),
      h("td", {}, card.active ? "Yes" : h("span", { class: "muted" }, "No")));
  }

  async function load(page) {
    const params = { limit: PAGE_SIZE, page, ...Object.fromEntries(new FormData(filters)) };
    const found = await call(`/cards/${type}/`, { params });
    body.replaceChildren(...found.results.map(row));
    if (!found.results.length) {
      body.append(h("tr", {}, h("td", { colspan: 4 }, emptyState("No records",
        params.name_contains || params.watch_lists ? "Nothing matches these filters." : "Create one, or add an event to one from its dialog."))));
    }
    pager.replaceChildren(
      h("button", { type: "button", class: "ghost", disabled: !found.prev_page, onclick: () => load(found.prev_page) }, "← Previous"),
      h("button", { type: "button", class: "ghost", disabled: !found.next_page, onclick: () => load(found.next_page) }, "Next →"));
  }

  let typing = null;
  filters.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => load(null), 300); });
  filters.addEventListener("submit", (event) => { event.preventDefault(); load(null); });
  watchLists().then((found) => {
    lists = found;
    // A watch list's link to its records names it in the hash: #/records/humans?watch_lists=3
    const chosen = new URLSearchParams(location.hash.split("?")[1] || "").get("watch_lists");
    listFilter.append(...lists.map((list) => h("option", { value: list.id, selected: String(list.id) === chosen }, list.name)));
    return load(null);
  }).catch((failure) => toast(failure.message, "error"));
  return { element, title: `Records · ${kind.title}`, leave: () => creator.open && creator.close() };
}

// The record's photos of each kind, and a form that adds one from an image file.
function photosSection(type, card, reload) {
  const kinds = RECORD_TYPES[type].kinds;
  const grid = h("div", { class: "photo-grid" });
  const file = h("input", { type: "file", name: "source_photo", accept: "image/jpeg,image/png,image/webp", required: true,
    "aria-label": "Photo file" });
  const kindSelect = h("select", { name: "kind", "aria-label": "Photo of" },
    kinds.map(([path, , label]) => h("option", { value: path }, label)));
  const add = h("form", { class: "toolbar add-photo", "data-write": true }, kinds.length > 1 ? kindSelect : null, file,
    h("button", { type: "submit", class: "primary" }, "Add photo"));
  add.addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = kinds.length > 1 ? kindSelect.value : kinds[0][0];
    try {
      await postForm(`/objects/${path}/`, { card: String(card.id), source_photo: file.files[0] });
      add.reset();
      toast("Photo added: its earlier appearances are being looked for", "success");
      reload();
    } catch (failure) {
      toast(failure.message, "error");
    }
  });
  (async () => {
    const found = await Promise.all(kinds.map(async ([path, , label]) =>
      (await call(`/objects/${path}/`, { params: { card: card.id, limit: 100 } })).results.map((photo) => ({ photo, label }))));
    const photos = found.flat();
    grid.replaceChildren(...photos.map(({ photo, label }) => h("figure", { class: "photo", dataset: { objectId: photo.id } },
      authImage(photo.thumbnail, `${label} photo`, "thumb"),
      h("figcaption", { class: "small muted" }, `${label}${photo.active ? "" : " · off"}`, retroText(photo.retro_matching)))));
    if (!photos.length) grid.append(emptyState("No photos", "Add one from a file, or from an event's \"Add to record\"."));
  })().catch((failure) => toast(failure.message, "error"));
  return h("div", { class: "card" }, h("h2", {}, "Photos"), session.canWrite ? add : null, grid);
}

function retroText(progress) {
  if (!progress || progress.status === "done") return null;
  return h("span", { class: "retro" }, ` · looking back: ${progress.status}, ${progress.checked} checked`);
}

// One page of the record's appearances; each event's `kind` is its list's path (faces, bodies, cars).
async function appearancesOf(type, cardId, page) {
  const found = await call(`/cards/${type}/${cardId}/appearances/`, { params: { limit: APPEARANCES_PAGE, page } });
  return { ...found, results: found.results.map((event) => ({ ...event, kind: event.object_type })) };
}

// One lane per archive: each appearance as a mark at its time in the video, and its thumbnail, in time order.
function archiveTimeline(video, events, openEvent) {
  events.sort((a, b) => a.stream_time - b.stream_time);
  const length = video?.source_len || Math.max(...events.map((event) => event.stream_time)) || 1;
  const percent = (seconds) => `${Math.min(100, (seconds / length) * 100)}%`;
  const name = video?.name || `Archive ${events[0].video_archive}`;
  return h("article", { class: "appearance-archive", dataset: { archive: events[0].video_archive } },
    h("div", { class: "appearance-head" }, h("a", { class: "title-link", href: `#/archives/${events[0].video_archive}` }, name),
      h("span", { class: "muted small" }, `${events.length} appearance${events.length === 1 ? "" : "s"}`)),
    h("div", { class: "lane appearance-lane" }, events.map((event) => h("button", { type: "button",
      class: `track-bar kind-${event.kind}`, style: `left:${percent(event.stream_time)};width:4px`,
      title: streamTime(event.stream_time), "aria-label": `Appearance at ${streamTime(event.stream_time)}`,
      onclick: () => openEvent(event) }))),
    h("div", { class: "appearance-strip" }, events.map((event) => h("button", { type: "button", class: "event-card",
      dataset: { eventId: event.id }, "aria-label": `Appearance at ${streamTime(event.stream_time)}, confidence ${event.confidence?.toFixed(2)}`,
      onclick: () => openEvent(event) }, authImage(event.thumbnail, "", "thumb"),
    h("span", { class: "event-meta" }, h("span", {}, streamTime(event.stream_time)),
      h("span", { class: "quality" }, event.confidence === null ? "" : event.confidence.toFixed(2)))))));
}

// The appearances of one page on a timeline per archive, and the way to the newer and older pages.
async function appearancesSection(type, card, openEvent, page = null) {
  const found = await appearancesOf(type, card.id, page);
  const events = found.results;
  if (!events.length && !page) return emptyState("No appearances yet", "Events matched with this record show here, in every archive.");
  const byArchive = Map.groupBy(events, (event) => event.video_archive);
  const videos = await Promise.all([...byArchive.keys()].map((id) => call(`/videos/${id}/`).catch(() => null)));
  const section = h("div", { class: "appearances" });
  const turn = (cursor) => appearancesSection(type, card, openEvent, cursor)
    .then((next) => section.replaceWith(next)).catch((failure) => toast(failure.message, "error"));
  section.append(...[...byArchive.entries()].map(([, shown], index) => archiveTimeline(videos[index], shown, openEvent)));
  if (found.prev_page || found.next_page) {
    section.append(h("div", { class: "pager" },
      h("button", { type: "button", class: "ghost", disabled: !found.prev_page, onclick: () => turn(found.prev_page) }, "← Newer"),
      h("button", { type: "button", class: "ghost", disabled: !found.next_page, onclick: () => turn(found.next_page) }, "Older →")));
  }
  return section;
}

export function recordPage(type, id) {
  const head = h("div", { class: "page-head" }, h("h1", {}, "Record"));
  const element = h("section", { class: "record" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: `#/records/${type}` }, `Records · ${RECORD_TYPES[type].title}`),
      h("span", {}, "/")),
    head, h("div", { class: "record-body" }));
  const events = eventDialog(() => {});
  const editor = h("dialog", { class: "form-dialog", "aria-label": "Edit record" });
  element.append(events.dialog, editor);
  const openEvent = (event) => events.open(event.kind, event.id, () => { location.hash = `#/archives/${event.video_archive}/${event.kind}/${encodeURIComponent(event.id)}`; })
    .catch((failure) => toast(failure.message, "error"));

  async function load() {
    const [card, lists] = await Promise.all([call(`/cards/${type}/${id}/`), watchLists()]);
    head.replaceChildren(h("div", {}, h("h1", {}, recordName(card)),
      h("div", { class: "chips" }, card.watch_lists.map((listId) => listChip(lists.find((list) => list.id === listId) || { id: listId, name: `#${listId}` })),
        card.active ? null : h("span", { class: "chip chip-yellow" }, "inactive")),
      card.comment ? h("p", { class: "muted record-comment" }, card.comment) : null),
    session.canWrite ? h("div", { class: "actions" },
      h("button", { type: "button", class: "ghost", onclick: () => edit(card, lists) }, "Edit"),
      h("button", { type: "button", class: "ghost", onclick: () => remove(card) }, "Delete record")) : null);
    const appearances = h("div", { class: "card" }, h("h2", {}, "Appearances"), h("p", { class: "muted" }, "Loading…"));
    const body = element.querySelector(".record-body");
    releaseImages(body);
    body.replaceChildren(photosSection(type, card, load), appearances);
    appearances.replaceChildren(h("h2", {}, "Appearances"), await appearancesSection(type, card, openEvent));
  }

  function edit(card, lists) {
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h("form", { class: "form record-form" }, recordFields(lists, card), error,
      h("div", { class: "actions" }, h("button", { type: "button", class: "ghost", onclick: () => editor.close() }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Save")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await call(`/cards/${type}/${card.id}/`, { method: "PATCH", body: recordBody(form) });
        editor.close();
        toast("Record saved", "success");
        await load();
      } catch (failure) {
        error.textContent = failure.message;
      }
    });
    editor.replaceChildren(h("h2", {}, `Edit ${recordName(card)}`), form);
    editor.showModal();
  }

  async function remove(card) {
    if (!confirm(`Delete the record ${recordName(card)} and its photos? Its matched events keep the match as history.`)) return;
    try {
      await call(`/cards/${type}/${card.id}/`, { method: "DELETE" });
      location.hash = `#/records/${type}`;
    } catch (failure) {
      toast(failure.message, "error");
    }
  }

  load().catch((failure) => {
    const text = failure instanceof ApiError && failure.status === 404 ? "There is no such record." : failure.message;
    element.replaceChildren(h("div", { class: "card" }, h("h2", {}, "Record not found"), h("p", {}, text)));
  });
  return { element, title: "Record", leave: () => { events.close(); if (editor.open) editor.close(); } };
}
