// The page's shell: sign-in state, the hash router, and each view's clean-up when it is left.

import { session, signOut, whenUnauthorized } from "./api.js";
import { releaseImages, toast } from "./dom.js";
import { alertsPage } from "./views/alerts.js";
import { archivePage } from "./views/archive.js";
import { archivesPage } from "./views/archives.js";
import { newArchivePage } from "./views/new-archive.js";
import { recordPage, recordsPage } from "./views/records.js";
import { signInPage } from "./views/sign-in.js";
import { watchListsPage } from "./views/watch-lists.js";

const ROUTES = [
  [/^#?\/?$/, () => archivesPage()],
  [/^#\/new$/, () => newArchivePage()],
  [/^#\/archives\/(\d+)(?:\/(faces|bodies|cars)\/(.+))?$/, ([, id, type, event]) =>
    archivePage(Number(id), type && { type, id: decodeURIComponent(event) })],
  [/^#\/alerts$/, () => alertsPage()],
  [/^#\/watch-lists$/, () => watchListsPage()],
  [/^#\/records(?:\/(humans|cars))?(?:\?.*)?$/, ([, type]) => recordsPage(type || "humans")],
  [/^#\/records\/(humans|cars)\/(\d+)$/, ([, type, id]) => recordPage(type, Number(id))],
];

// The header link of each page: the first part of its hash.
const SECTIONS = { new: "new", alerts: "alerts", records: "records", "watch-lists": "watch-lists" };

const view = document.getElementById("view");
let leave = () => {};

function showShell() {
  const signedIn = Boolean(session.token);
  document.querySelector(".topbar").hidden = !signedIn;
  document.body.classList.toggle("read-only", signedIn && !session.canWrite);
  document.getElementById("role").textContent = session.role || "";
  const route = SECTIONS[location.hash.split("/")[1]?.split("?")[0]] || "archives";
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.toggleAttribute("aria-current", link.dataset.nav === route);
  }
}

// Opening or closing an event dialog on an archive page keeps the page (`keepView`): no reload.
export function render({ keepView = false } = {}) {
  if (keepView && view.firstElementChild?.onRoute) {
    view.firstElementChild.onRoute(location.hash);
    return;
  }
  leave();
  releaseImages(view);
  showShell();
  const [pattern, build] = session.token
    ? ROUTES.find(([route]) => route.test(location.hash)) || ROUTES[0]
    : [/.*/, () => signInPage(() => render())];
  const page = build(location.hash.match(pattern) || []);
  leave = page.leave || (() => {});
  view.replaceChildren(page.element);
  document.title = page.title ? `${page.title} · vidar` : "vidar";
}

let lastPath = location.hash;
window.addEventListener("hashchange", () => {
  const samePage = (hash) => hash.match(/^#\/archives\/\d+/)?.[0];
  const keepView = Boolean(samePage(location.hash)) && samePage(location.hash) === samePage(lastPath);
  lastPath = location.hash;
  render({ keepView });
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await signOut();
  render();
});

// A token revoked while the page is open: back to the sign-in, saying why.
whenUnauthorized(() => {
  signOut().then(() => {
    render();
    toast("Signed out: the token is no longer valid", "error");
  });
});

render();
