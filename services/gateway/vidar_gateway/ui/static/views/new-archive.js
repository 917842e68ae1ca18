// A new archive: the common settings as fields, the rest as JSON, then a file upload or a URL.
// The API validates everything; its 400 answer names the field (`param`), shown next to it.

import { call, cameraGroups, uploadSource } from "../api.js";
import { bytes, duration, h, progressBar, toast } from "../dom.js";

const DETECTORS = [["face", "Faces"], ["body", "Bodies"], ["car", "Cars"]];
// Each kind's settings in the API's OpenAPI document, whose defaults the form shows.
const SCHEMA_OF_KIND = { face: "KindSettings", body: "BodySettings", car: "CarSettings" };
const POSTS = [["post_best_track_frame", "Best frame", true], ["post_first_track_frame", "First frame", false],
  ["post_last_track_frame", "Last frame", false]];
// The API's param (its last part for detector settings) -> the form field that shows its error.
const FIELD_OF_PARAM = { name: "name", camera_group: "camera_group", url: "url", roi: "roi",
  filter_min_size: "filter_min_size", filter_min_quality: "filter_min_quality", tracker_type: "tracker_type" };

function field(label, control, hint) {
  const id = control.id || control.name;
  control.id = id;
  control.setAttribute("aria-describedby", `${id}-error`);
  return h("div", { class: "field", dataset: { field: control.name } },
    h("label", { for: id }, label), control,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", id: `${id}-error`, role: "alert" }));
}

function check(name, label, checked) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, value: "on", checked }), label);
}

function sourcePicker(onFile) {
  const input = h("input", { type: "file", id: "source-file", name: "source_file", accept: "video/*", class: "sr-only" });
  const chosen = h("span", { class: "chosen" }, "No file chosen");
  const zone = h("label", { for: "source-file", class: "drop-zone", tabindex: 0 },
    h("strong", {}, "Drop a video here"), h("span", { class: "muted" }, "or click to choose a file"), chosen);
  const pick = (file) => { chosen.textContent = `${file.name} · ${bytes(file.size)}`; onFile(file); };
  input.addEventListener("change", () => input.files[0] && pick(input.files[0]));
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files[0]) pick(event.dataTransfer.files[0]);
  });
  return h("div", {}, input, zone);
}

// "Faces 60 px, 0.42 · Bodies 0 px, 0.3 · ...": each detector's own filter defaults, as the API states
// them, so that an empty field is not mistaken for "no filter".
async function filterDefaults() {
  const { components } = await fetch("/openapi.json").then((response) => response.json());
  return DETECTORS.map(([kind, label]) => {
    const { filter_min_size: size, filter_min_quality: quality } = components.schemas[SCHEMA_OF_KIND[kind]].properties;
    return `${label} ${size.default} px, ${quality.default}`;
  }).join(" · ");
}

function numberOrNull(value) {
  return value === "" ? null : Number(value);
}

// The stream_settings the form describes: the JSON box first, the fields on top of it.
function streamSettings(data, extra) {
  const common = { tracker_type: data.get("tracker_type") };
  if (data.get("roi")) common.roi = data.get("roi");
  for (const name of ["filter_min_size", "filter_min_quality"]) {
    if (data.get(name) !== "") common[name] = numberOrNull(data.get(name));
  }
  for (const [name] of POSTS) common[name] = data.get(name) === "on";
  const detectors = Object.fromEntries(DETECTORS.map(([kind]) =>
    [kind, data.get(`detector_${kind}`) === "on" ? { ...(extra.detectors?.[kind] || {}), ...common } : null]));
  return { ...extra, detectors };
}

export function newArchivePage() {
  let file = null;
  // Kept when the upload fails, so trying again uploads to the same archive.
  let created = null;
  const group = h("select", { name: "camera_group" });
  // Creating waits for the groups: a form sent before would name no camera group.
  const groupsLoaded = cameraGroups().then((groups) => group.replaceChildren(
    ...groups.map((item) => h("option", { value: item.id }, item.name)),
  )).catch(() => group.replaceChildren(h("option", { value: 1 }, "Camera group 1")));
  const url = h("input", { name: "url", type: "url", placeholder: "https://media.example.org/recording.mp4" });
  const json = h("textarea", { name: "stream_settings", rows: 5, spellcheck: "false",
    placeholder: '{"play_speed": -1, "video_transform": "Rotate90"}' });
  const defaultsHint = h("p", { class: "hint" }, "Empty: each detector's own default.");
  filterDefaults().then((text) => { defaultsHint.textContent = `Empty: each detector's own default (${text}).`; })
    .catch(() => {});
  const progress = h("div", { class: "upload-progress", hidden: true });
  const submitButton = h("button", { type: "submit", class: "primary", disabled: true }, "Create archive");
  groupsLoaded.then(() => { submitButton.disabled = false; });
  const formError = h("p", { class: "form-error", role: "alert" });

  const sourceTabs = h("div", { class: "segmented", role: "radiogroup", "aria-label": "Source" },
    h("label", {}, h("input", { type: "radio", name: "source_kind", value: "file", checked: true }), "Upload a file"),
    h("label", {}, h("input", { type: "radio", name: "source_kind", value: "url" }), "Fetch from a URL"));
  const fileBox = sourcePicker((chosen) => { file = chosen; });
  const urlBox = h("div", { hidden: true }, field("Video URL", url, "The storage service fetches it; progress shows on the archive's page."));
  sourceTabs.addEventListener("change", (event) => {
    fileBox.hidden = event.target.value !== "file";
    urlBox.hidden = event.target.value !== "url";
  });

  const form = h("form", { class: "card form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Archive"),
      h("div", { class: "grid-2" },
        field("Name", h("input", { name: "name", required: true, maxlength: 256, autocomplete: "off" })),
        field("Camera group", group))),
    h("fieldset", {}, h("legend", {}, "Source"), sourceTabs, fileBox, urlBox),
    h("fieldset", {}, h("legend", {}, "Detectors"),
      h("div", { class: "checks" }, DETECTORS.map(([kind, label]) => check(`detector_${kind}`, label, kind === "face")))),
    h("fieldset", {}, h("legend", {}, "Detection and tracking"), h("p", { class: "hint" }, "For every detector chosen above."),
      h("div", { class: "grid-4" },
        field("Region of interest", h("input", { name: "roi", placeholder: "640x480+100+50" }), "WxH+X+Y; empty: the whole frame"),
        field("Min size, px", h("input", { name: "filter_min_size", type: "number", min: 0, placeholder: "default" })),
        field("Min quality", h("input", { name: "filter_min_quality", type: "number", min: 0, max: 1, step: 0.01,
          placeholder: "default" })),
        field("Tracker", h("select", { name: "tracker_type" }, h("option", { value: "simple_iou" }, "Simple IoU"),
          h("option", { value: "deep_sort" }, "Deep SORT")))),
      defaultsHint,
      h("div", { class: "field" }, h("span", { class: "label" }, "Post for each track"),
        h("div", { class: "checks" }, POSTS.map(([name, label, checked]) => check(name, label, checked))),
        h("p", { class: "hint" }, "First and last frames give the track timeline each track's length."))),
    h("details", { class: "advanced" }, h("summary", {}, "More stream settings (JSON)"),
      field("stream_settings", json, "Any other stream_settings of the API, merged under the fields above.")),
    formError, progress,
    h("div", { class: "actions" }, h("a", { href: "#/", class: "button ghost" }, "Back to archives"), submitButton));

  function clearErrors() {
    formError.textContent = "";
    for (const box of form.querySelectorAll(".field-error")) box.textContent = "";
    for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  }

  function showError(failure) {
    const param = failure.param || "";
    const name = FIELD_OF_PARAM[param] || FIELD_OF_PARAM[param.split(".").pop()] ||
      (param.startsWith("stream_settings") ? "stream_settings" : null);
    const box = name && form.querySelector(`[data-field="${name}"]`);
    if (!box) { formError.textContent = failure.message; return; }
    box.querySelector(".field-error").textContent = failure.message;
    const control = box.querySelector("input, select, textarea");
    control.setAttribute("aria-invalid", "true");
    box.closest("details")?.setAttribute("open", "");
    control.focus();
  }

  function extraSettings() {
    if (!json.value.trim()) return {};
    let parsed;
    try { parsed = JSON.parse(json.value); } catch (error) {
      throw Object.assign(new Error(`not valid JSON: ${error.message}`), { param: "stream_settings" });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw Object.assign(new Error("must be a JSON object"), { param: "stream_settings" });
    }
    return parsed;
  }

  async function upload(video) {
    progress.hidden = false;
    const started = performance.now();
    const label = h("span", { class: "upload-detail" }, "Starting upload…");
    const bar = progressBar(0, "Upload progress");
    progress.replaceChildren(h("div", { class: "upload-head" }, h("strong", {}, `Uploading ${file.name}`), label), bar);
    await uploadSource(video.id, file, (sent, total) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds ? sent / seconds : 0;
      const percent = Math.round((sent / total) * 100);
      bar.setAttribute("aria-valuenow", percent);
      bar.firstChild.style.width = `${percent}%`;
      const left = rate ? duration((total - sent) / rate) : "…";
      label.textContent = `${bytes(sent)} of ${bytes(total)} · ${bytes(rate)}/s · ${percent}% · ${left} left`;
    });
    const seconds = (performance.now() - started) / 1000;
    label.textContent = `${bytes(file.size)} uploaded in ${seconds.toFixed(1)} s (${bytes(file.size / Math.max(seconds, 0.001))}/s)`;
    progress.classList.add("done");
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    const data = new FormData(form);
    const fromUrl = data.get("source_kind") === "url";
    submitButton.disabled = true;
    try {
      const body = { name: data.get("name").trim() || null, camera_group: Number(data.get("camera_group")),
        stream_settings: streamSettings(data, extraSettings()) };
      if (fromUrl) body.url = data.get("url").trim() || null;
      const video = created || await call("/videos/", { method: "POST", body });
      created = video;
      if (fromUrl || !file) {
        location.hash = `#/archives/${video.id}`;
        return;
      }
      await upload(video);
      // The finished bar stays in view; the operator goes on to the archive from here.
      submitButton.replaceWith(h("a", { class: "button primary", href: `#/archives/${video.id}` }, "Open archive →"));
      toast(`“${video.name}” uploaded`, "success");
    } catch (failure) {
      showError(failure);
    } finally {
      submitButton.disabled = false;
    }
  }

  form.addEventListener("submit", submit);
  const element = h("section", { class: "narrow" }, h("div", { class: "page-head" }, h("h1", {}, "New archive")), form);
  return { element, title: "New archive" };
}
