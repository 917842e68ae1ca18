// What was seen (issue 26): each event's attributes as badges and facts, and the events grid's
// filters of them, per kind, with the API's names and values (docs/api.md, "Attributes").

import { h } from "../dom.js";

// The API's twelve colour names, each with the colour its swatch is painted in.
const COLORS = {
  black: "#1b1b1f", white: "#ffffff", grey: "#8a8f98", red: "#d1302a", orange: "#ee7f1b", yellow: "#f2cc1f",
  green: "#2f9a45", blue: "#2b62d8", purple: "#7d3fb8", pink: "#ec79b0", brown: "#7b4b24", beige: "#dccaa0",
};
const EMOTIONS = ["angry", "disgusted", "scared", "happy", "neutral", "sad", "surprised"];
const MASKS = { none: "no mask", correct: "mask", incorrect: "mask below the nose" };
const GENDERS = { male: "Male", female: "Female" };

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
const percent = (feature) => `${Math.round(feature.confidence * 100)}%`;

function swatch(name, label) {
  return h("span", { class: "color-swatch", style: `background:${COLORS[name]}`, title: `${label}: ${name}`,
    dataset: { color: name } });
}

function colorText(feature, label) {
  return feature ? [swatch(feature.name, label), ` ${feature.name} (${percent(feature)})`] : "not estimated";
}

// A few words under a thumbnail; nothing for an event without attributes.
export function attributeBadges(type, features) {
  if (!features) return null;
  const parts = [];
  if (type === "faces") {
    const { age, gender, emotions, medmask } = features;
    const who = [gender ? GENDERS[gender.name].charAt(0) : null, age ? String(age.name) : null].filter(Boolean).join(" ");
    if (who) parts.push(h("span", { title: "Gender and age" }, who));
    if (emotions) parts.push(h("span", { title: "Emotion" }, emotions.name));
    if (medmask && medmask.name !== "none") parts.push(h("span", { class: "mask-tag", title: MASKS[medmask.name] }, "mask"));
  } else if (type === "bodies") {
    if (features.top_color) parts.push(swatch(features.top_color.name, "Top"));
    if (features.bottom_color) parts.push(swatch(features.bottom_color.name, "Bottom"));
  } else {
    if (features.color) parts.push(swatch(features.color.name, "Colour"));
    if (features.license_plate_number) parts.push(h("span", { class: "plate" }, features.license_plate_number.name));
  }
  return parts.length ? h("span", { class: "attributes" }, parts) : null;
}

// The attributes in words, for a card's accessible name: "top color red, bottom color blue".
export function attributeSummary(features) {
  return Object.entries(features || {}).filter(([, feature]) => feature)
    .map(([name, feature]) => `${name.replaceAll("_", " ")} ${feature.name}`).join(", ");
}

// The event dialog's rows: each attribute of the kind with its confidence.
export function attributeFacts(type, features) {
  const shown = (feature, text) => (feature ? `${text(feature.name)} (${percent(feature)})` : "not estimated");
  const f = features || {};
  if (type === "faces") {
    return [["Age", shown(f.age, (age) => `${age} years`)], ["Gender", shown(f.gender, (g) => GENDERS[g])],
      ["Emotion", shown(f.emotions, capital)], ["Mask", shown(f.medmask, (m) => MASKS[m])]];
  }
  if (type === "bodies") return [["Top colour", colorText(f.top_color, "Top")], ["Bottom colour", colorText(f.bottom_color, "Bottom")]];
  return [["Colour", colorText(f.color, "Colour")], ["Plate", shown(f.license_plate_number, (plate) => plate)]];
}

function choice(name, label, values) {
  return h("label", { class: "inline" }, label, h("select", { name, "aria-label": label },
    h("option", { value: "" }, "Any"), Object.entries(values).map(([value, text]) => h("option", { value }, text))));
}

const colorChoices = Object.fromEntries(Object.keys(COLORS).map((name) => [name, capital(name)]));

function age(name, label, placeholder) {
  return h("label", { class: "inline" }, label, h("input", { type: "number", min: 0, max: 120, step: 1, name, placeholder,
    class: "tiny", "aria-label": label }));
}

// The filter controls of a kind's attributes; each control's name is its API filter.
export function attributeControls(type) {
  if (type === "faces") {
    return [choice("gender", "Gender", GENDERS), age("age_gte", "Age from", "0"), age("age_lte", "to", "120"),
      choice("emotions", "Emotion", Object.fromEntries(EMOTIONS.map((name) => [name, capital(name)]))),
      choice("medmask", "Mask", { none: "No mask", correct: "Mask", incorrect: "Below the nose" })];
  }
  if (type === "bodies") return [choice("top_color", "Top", colorChoices), choice("bottom_color", "Bottom", colorChoices)];
  return [choice("color", "Colour", colorChoices),
    h("label", { class: "inline" }, "Plate", h("input", { type: "search", name: "license_plate_number", maxlength: 16,
      placeholder: "contains", class: "short", "aria-label": "Plate contains" }))];
}
