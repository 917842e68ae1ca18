// Watch lists: who every camera looks for. Everyone reads them; only admins create, change or
// delete one (the API answers 403 to anyone else, so the page offers no control it would refuse).

import { call, cameraGroups, session } from "../api.js";
import { emptyState, h, toast } from "../dom.js";

const THRESHOLDS = [["face_threshold", "Face"], ["body_threshold", "Body"], ["car_threshold", "Car"]];
const DEFAULT_COLOR = "2457d6";

// Every list, for the selects and chips of the records pages: a deployment has a handful.
export async function watchLists() {
  return (await call("/watch-lists/", { params: { limit: 1000, ordering: "id" } })).results;
}

export function listChip(list) {
  return h("span", { class: "list-chip", dataset: { listId: list.id } },
    h("span", { class: "color-dot", style: `background:#${list.color || "8d97a8"}`, "aria-hidden": "true" }), list.name);
}

function thresholdText(list) {
  const set = THRESHOLDS.filter(([field]) => list[field] !== null).map(([field, label]) => `${label} ${list[field]}`);
  return set.length ? set.join(" · ") : "default";
}

function groupsText(list, groups) {
  if (!list.camera_groups.length) return "All";
  return list.camera_groups.map((id) => groups.find((group) => group.id === id)?.name || `#${id}`).join(", ");
}

// The form of a new list (`list` null) or of one to change; `save` gets the fields to send.
function listForm(list, groups, save, cancel) {
  const field = (label, control, hint) => h("label", { class: "field" }, label, control, hint ? h("span", { class: "hint" }, hint) : null);
  const check = (name, label, checked) => h("label", { class: "check" }, h("input", { type: "checkbox", name, checked }), label);
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "form watch-list-form", "aria-label": list ? `Edit ${list.name}` : "New watch list" },
    h("div", { class: "grid-2" },
      field("Name", h("input", { name: "name", required: true, maxlength: 256, value: list?.name || "" })),
      field("Colour", h("input", { type: "color", name: "color", value: `#${list?.color || DEFAULT_COLOR}` }))),
    field("Comment", h("input", { name: "comment", value: list?.comment || "" })),
    h("div", { class: "checks" }, check("active", "Active", list ? list.active : true),
      check("acknowledge", "Matches must be acknowledged", Boolean(list?.acknowledge))),
    h("fieldset", {}, h("legend", {}, "Thresholds"),
      h("div", { class: "checks" }, THRESHOLDS.map(([name, label]) => h("label", { class: "inline" }, label,
        h("input", { type: "number", name, min: 0, max: 1, step: 0.01, class: "short", placeholder: "default",
          value: list?.[name] ?? "" })))),
      h("p", { class: "hint" }, "The least confidence of a match, 0 to 1; empty: the system's default.")),
    h("fieldset", {}, h("legend", {}, "Camera groups"),
      h("div", { class: "checks" }, groups.map((group) => check("camera_groups", group.name,
        list?.camera_groups.includes(group.id)))),
      h("p", { class: "hint" }, "None checked: every camera group.")),
    error,
    h("div", { class: "actions" }, h("button", { type: "button", class: "ghost", onclick: cancel }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, list ? "Save" : "Create")));
  const groupIds = groups.map((group) => group.id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const boxes = [...form.querySelectorAll('input[name="camera_groups"]')];
    const fields = {
      name: data.get("name").trim(),
      comment: data.get("comment"),
      color: data.get("color").slice(1),
      active: data.has("active"),
      acknowledge: data.has("acknowledge"),
      camera_groups: groupIds.filter((id, index) => boxes[index].checked),
      ...Object.fromEntries(THRESHOLDS.map(([name]) => [name, data.get(name) === "" ? null : Number(data.get(name))])),
    };
    try {
      await save(fields);
    } catch (failure) {
      error.textContent = failure.param ? `${failure.param}: ${failure.message}` : failure.message;
    }
  });
  return form;
}

export function watchListsPage() {
  const body = h("tbody");
  const editor = h("dialog", { class: "form-dialog", "aria-label": "Watch list" });
  const table = h("table", { class: "archives" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Active"), h("th", {}, "Acknowledge"),
      h("th", {}, "Thresholds"), h("th", {}, "Camera groups"), session.isAdmin ? h("th", { class: "num" }, "") : null)),
    body);
  const create = h("button", { type: "button", class: "primary", onclick: () => edit(null) }, "New watch list");
  const element = h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Watch lists"), session.isAdmin ? create : null),
    h("div", { class: "card table-card" }, table), editor);
  let groups = [];

  function edit(list) {
    const close = () => editor.close();
    editor.replaceChildren(h("h2", {}, list ? `Edit ${list.name}` : "New watch list"), listForm(list, groups, async (fields) => {
      if (list) await call(`/watch-lists/${list.id}/`, { method: "PATCH", body: fields });
      else await call("/watch-lists/", { method: "POST", body: fields });
      close();
      toast(list ? "Watch list saved" : "Watch list created", "success");
      await load();
    }, close));
    editor.showModal();
  }

  async function remove(list) {
    if (!confirm(`Delete the watch list ${list.name}?`)) return;
    try {
      await call(`/watch-lists/${list.id}/`, { method: "DELETE" });
      toast("Watch list deleted", "success");
      await load();
    } catch (failure) {
      // A 409 names the records still on the list: the operator must move them first.
      toast(failure.message, "error");
    }
  }

  function row(list) {
    return h("tr", { dataset: { id: list.id } },
      h("td", {}, h("a", { href: `#/records/humans?watch_lists=${list.id}`, class: "list-link", title: "Its records" }, listChip(list)),
        list.comment ? h("div", { class: "muted small" }, list.comment) : null),
      h("td", {}, list.active ? "Yes" : h("span", { class: "muted" }, "No")),
      h("td", {}, list.acknowledge ? "Yes" : h("span", { class: "muted" }, "No")),
      h("td", { class: "small" }, thresholdText(list)),
      h("td", { class: "small" }, groupsText(list, groups)),
      session.isAdmin ? h("td", { class: "num row-actions" },
        h("button", { type: "button", class: "ghost", onclick: () => edit(list) }, "Edit"),
        h("button", { type: "button", class: "ghost", onclick: () => remove(list) }, "Delete")) : null);
  }

  async function load() {
    const lists = await watchLists();
    body.replaceChildren(...lists.map(row));
    if (!lists.length) {
      body.append(h("tr", {}, h("td", { colspan: 6 }, emptyState("No watch lists",
        session.isAdmin ? "Create one, then add records of the people and cars to look for." : "An admin creates them."))));
    }
  }

  cameraGroups().then((found) => { groups = found; return load(); })
    .catch((failure) => toast(failure.message, "error"));
  return { element, title: "Watch lists", leave: () => editor.open && editor.close() };
}
