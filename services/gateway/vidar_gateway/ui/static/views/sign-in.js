// Sign in with an API token (`vidar-gateway token create`); a wrong one is said so plainly.

import { signIn } from "../api.js";
import { h } from "../dom.js";

export function signInPage(onSignedIn) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password",
    required: true, placeholder: "Paste your API token", "aria-describedby": "token-error token-help" });
  const error = h("p", { class: "field-error", id: "token-error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary wide" }, "Sign in");

  async function submit(event) {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await signIn(input.value.trim());
      onSignedIn();
    } catch (failure) {
      error.textContent = failure.status === 401
        ? "This token is not valid. Check it, or ask an administrator for a new one."
        : `Could not sign in: ${failure.message}`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      button.disabled = false;
    }
  }

  const element = h("section", { class: "sign-in" },
    h("form", { class: "card sign-in-card", onsubmit: submit },
      h("div", { class: "sign-in-brand" }, h("img", { src: "/ui/favicon.svg", alt: "", width: 40, height: 40 }),
        h("div", {}, h("h1", {}, "vidar"), h("p", { class: "muted" }, "Video archive analytics"))),
      h("label", { for: "token" }, "API token"),
      input,
      error,
      h("p", { class: "hint", id: "token-help" },
        "An administrator creates tokens with ", h("code", {}, "vidar-gateway token create"),
        ". The token stays in this browser tab only."),
      button));
  setTimeout(() => input.focus());
  return { element, title: "Sign in" };
}
