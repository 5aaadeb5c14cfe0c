// The JSON API, with the key from this tab's sessionStorage in Authorization only.

const KEY_SLOT = "filedrop.apiKey";

export const session = {
  get key() {
    return sessionStorage.getItem(KEY_SLOT) || "";
  },
  signIn(key) {
    sessionStorage.setItem(KEY_SLOT, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY_SLOT);
  },
};

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (session.key) headers.Authorization = `Bearer ${session.key}`;
  return headers;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The server's own message for a failed response (the API's errors are JSON).
export function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error && body.error.message) {
      return new ApiError(status, body.error.code, body.error.message);
    }
  } catch {
    // not JSON: fall through to a generic message, never the raw body
  }
  return new ApiError(status, "HTTP_" + status, `The server answered ${status}`);
}

export async function api(method, path, { json, headers } = {}) {
  const init = { method, headers: authHeaders(headers), cache: "no-store" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "The server cannot be reached");
  }
  if (!response.ok) throw errorFrom(response.status, await response.text());
  if (response.status === 204) return null;
  return response.json();
}

// A file's content as a Blob (previews; the caller keeps them small). Streamed by the
// app even where downloads redirect to storage: the page may only talk to its origin.
export async function fetchBlob(fileId) {
  let response;
  try {
    response = await fetch(`/files/${encodeURIComponent(fileId)}?redirect=0`, {
      headers: authHeaders(),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The server cannot be reached");
  }
  if (!response.ok) throw errorFrom(response.status, await response.text());
  return response.blob();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? "?" + text : "";
}
