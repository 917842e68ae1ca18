// The public HTTP API, as any script would call it: `Authorization: Token <token>` on every call.
// The token lives in sessionStorage (this tab, until it closes): never in a URL, so never in a log.

const TOKEN = "vidar.token";
const ROLE = "vidar.role";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.desc || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.param = body?.param;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get role() { return sessionStorage.getItem(ROLE); },
  get canWrite() { return this.role === "admin" || this.role === "operator"; },
  // Watch lists decide what every camera looks for: only admins change them.
  get isAdmin() { return this.role === "admin"; },
};

async function failure(response) {
  const body = await response.json().catch(() => null);
  return new ApiError(response.status, body);
}

// Signs in: the gateway checks the token, answers its role and sets the cookie the <video> needs.
export async function signIn(token) {
  const response = await fetch("/ui/session/", { method: "POST", headers: { Authorization: `Token ${token}` } });
  if (!response.ok) throw await failure(response);
  const { role } = await response.json();
  sessionStorage.setItem(TOKEN, token);
  sessionStorage.setItem(ROLE, role);
  return role;
}

export async function signOut() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(ROLE);
  await fetch("/ui/session/", { method: "DELETE" });
}

// Absolute URLs from the API (screenshot, thumbnail) are fetched from this page's own origin.
function sameOrigin(url) {
  const parsed = new URL(url, location.origin);
  return parsed.pathname + parsed.search;
}

function withParams(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) { onUnauthorized = handler; }

export async function call(path, { method = "GET", params, body } = {}) {
  const headers = { Authorization: `Token ${session.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(withParams(sameOrigin(path), params), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

// A multipart/form-data POST (a record's photo): the browser sets the boundary, so no Content-Type.
export async function postForm(path, fields) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) form.append(name, value);
  }
  const response = await fetch(path, { method: "POST", headers: { Authorization: `Token ${session.token}` }, body: form });
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw await failure(response);
  return response.json();
}

// An image behind the token, as an object URL for an <img>; the caller revokes it.
export async function imageUrl(url) {
  const response = await fetch(sameOrigin(url), { headers: { Authorization: `Token ${session.token}` } });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

// Uploads a File as the request body: the browser streams it from disk, so a large file is never
// read into memory, and XMLHttpRequest (unlike fetch) reports the upload's progress.
export function uploadSource(videoId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", `/videos/${videoId}/upload/source_file/`);
    request.setRequestHeader("Authorization", `Token ${session.token}`);
    request.setRequestHeader("Content-Type", file.type.startsWith("video/") ? file.type : "application/octet-stream");
    request.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    request.onload = () => {
      const body = JSON.parse(request.responseText || "null");
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new ApiError(request.status, body));
    };
    request.onerror = () => reject(new ApiError(0, { desc: "the upload was cut off: check the connection" }));
    request.send(file);
  });
}

// Camera groups for the selects: a deployment has a handful, so one page of the largest size.
export async function cameraGroups() {
  return (await call("/camera-groups/", { params: { limit: 1000 } })).results;
}
