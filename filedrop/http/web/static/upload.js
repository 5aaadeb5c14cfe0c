// Uploads: one XMLHttpRequest per small file; tus (resumable, in chunks) above a size.
// Files are sent as Blob slices: nothing is read whole into memory.

import { authHeaders, errorFrom, ApiError } from "./api.js";
import { formatBytes } from "./dom.js";

export const TUS_THRESHOLD = 8 * 1024 * 1024;
export const TUS_CHUNK = 8 * 1024 * 1024;
const TUS = { "Tus-Resumable": "1.0.0" };
const RESUME_PREFIX = "filedrop.tus:";

function base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// Where a resumable upload of this file into this folder can pick up (no key kept).
function resumeSlot(file, folder) {
  return RESUME_PREFIX + JSON.stringify([file.name, file.size, file.lastModified, folder]);
}

class Aborted extends Error {}

// One request with upload progress; resolves with the XMLHttpRequest once it has answered.
function send(method, url, headers, body, onProgress, holder) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    holder.xhr = xhr;
    xhr.open(method, url);
    for (const [name, value] of Object.entries(authHeaders(headers))) {
      xhr.setRequestHeader(name, value);
    }
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new ApiError(0, "NETWORK", "Connection lost"));
    xhr.onabort = () => reject(new Aborted("Cancelled"));
    xhr.send(body);
  });
}

export class Upload {
  // file: a File; folder: where it goes; onChange(upload) on every progress step.
  constructor(file, folder, onChange) {
    this.file = file;
    this.folder = folder;
    this.onChange = onChange;
    this.sent = 0;
    this.state = "queued"; // queued, uploading, paused, done, failed, cancelled
    this.message = "";
    this.resumedFrom = 0;
    this.speed = 0;
    this.tus = file.size > TUS_THRESHOLD;
    this.holder = { xhr: null };
    this.samples = [];
  }

  get name() {
    return this.file.name;
  }

  progress(sent) {
    this.sent = sent;
    const now = performance.now();
    this.samples.push([now, sent]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    const [t0, b0] = this.samples[0];
    this.speed = now > t0 ? ((sent - b0) * 1000) / (now - t0) : 0;
    this.onChange(this);
  }

  set(state, message = "") {
    this.state = state;
    this.message = message;
    this.onChange(this);
  }

  async start() {
    this.set("uploading", "");
    try {
      const file = this.tus ? await this.viaTus() : await this.direct();
      this.sent = this.file.size;
      this.set("done", this.resumedFrom ? `Resumed from ${formatBytes(this.resumedFrom)}` : "");
      return file;
    } catch (error) {
      if (error instanceof Aborted) {
        this.set("cancelled", "Cancelled");
      } else if (error.code === "NETWORK" && this.tus) {
        this.set("paused", "Connection lost: it resumes when the connection is back");
        window.addEventListener("online", () => this.start(), { once: true });
      } else {
        this.set("failed", error.message);
      }
      return null;
    }
  }

  async cancel() {
    const wasTus = this.tus && this.url;
    this.cancelled = true;
    if (this.holder.xhr) this.holder.xhr.abort();
    if (this.state === "paused") this.set("cancelled", "Cancelled");
    if (wasTus) {
      localStorage.removeItem(resumeSlot(this.file, this.folder));
      const url = this.url;
      this.url = null;
      await fetch(url, { method: "DELETE", headers: authHeaders(TUS) }).catch(() => {});
    }
  }

  async direct() {
    const params = new URLSearchParams({ folder: this.folder });
    const headers = { "X-File-Name": encodeURIComponent(this.file.name) };
    if (this.file.type) headers["Content-Type"] = this.file.type;
    else headers["Content-Type"] = "application/octet-stream";
    const xhr = await send(
      "POST",
      `/files/upload?${params}`,
      headers,
      this.file,
      (loaded) => this.progress(loaded),
      this.holder,
    );
    if (xhr.status !== 201) throw errorFrom(xhr.status, xhr.responseText);
    return JSON.parse(xhr.responseText);
  }

  async viaTus() {
    const slot = resumeSlot(this.file, this.folder);
    let offset = null;
    this.url = this.url || localStorage.getItem(slot);
    if (this.url) offset = await this.offsetOf(this.url);
    if (offset === null) {
      this.url = await this.create();
      localStorage.setItem(slot, this.url);
      offset = 0;
    } else if (offset > 0) {
      this.resumedFrom = offset;
      this.message = `Resuming from ${formatBytes(offset)}`;
    }
    this.samples = [];
    this.progress(offset);
    let fileId = this.finishedAs || null;
    while (offset < this.file.size || fileId === null) {
      if (this.cancelled) throw new Aborted("Cancelled");
      const end = Math.min(offset + TUS_CHUNK, this.file.size);
      const start = offset;
      const xhr = await send(
        "PATCH",
        this.url,
        { ...TUS, "Upload-Offset": String(start), "Content-Type": "application/offset+octet-stream" },
        this.file.slice(start, end),
        (loaded) => this.progress(start + loaded),
        this.holder,
      );
      if (xhr.status === 409) {
        offset = await this.offsetOf(this.url); // someone else moved it on: ask where it is
        if (offset === null) throw new ApiError(409, "CONFLICT", "The upload was lost; try again");
        continue;
      }
      if (xhr.status !== 204) {
        if (xhr.status === 404 || xhr.status === 410) localStorage.removeItem(slot);
        throw errorFrom(xhr.status, xhr.responseText);
      }
      offset = Number(xhr.getResponseHeader("Upload-Offset"));
      fileId = xhr.getResponseHeader("X-File-Id");
      this.progress(offset);
      if (offset >= this.file.size && fileId === null) {
        throw new ApiError(500, "INCOMPLETE", "The server did not finish the file");
      }
    }
    localStorage.removeItem(slot);
    return { file_id: fileId };
  }

  async offsetOf(url) {
    let response;
    try {
      response = await fetch(url, { method: "HEAD", headers: authHeaders(TUS), cache: "no-store" });
    } catch {
      throw new ApiError(0, "NETWORK", "Connection lost");
    }
    if (!response.ok) return null; // gone, expired or another user's: start again
    this.finishedAs = response.headers.get("X-File-Id");
    return Number(response.headers.get("Upload-Offset"));
  }

  async create() {
    const metadata = [
      `filename ${base64(this.file.name)}`,
      `folder ${base64(this.folder)}`,
    ];
    if (this.file.type) metadata.push(`filetype ${base64(this.file.type)}`);
    const xhr = await send(
      "POST",
      "/uploads/",
      { ...TUS, "Upload-Length": String(this.file.size), "Upload-Metadata": metadata.join(",") },
      null,
      null,
      this.holder,
    );
    if (xhr.status !== 201) throw errorFrom(xhr.status, xhr.responseText);
    return xhr.getResponseHeader("Location");
  }
}

// Files (with their folder relative to the drop) from a drop: whole folders too.
export async function droppedFiles(dataTransfer) {
  const entries = [];
  for (const item of dataTransfer.items || []) {
    const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
  }
  if (!entries.length) return [...(dataTransfer.files || [])].map((file) => ({ file, dir: "" }));
  const found = [];
  async function walk(entry, dir) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      found.push({ file, dir });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      const sub = dir ? `${dir}/${entry.name}` : entry.name;
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, sub);
      }
    }
  }
  for (const entry of entries) await walk(entry, "");
  return found;
}
