// FILE DROP in the browser: sign in, browse, upload, act on files, share.
// Every name from the server is put on the page as text (textContent), never as HTML.

import { api, fetchBlob, query, session, ApiError } from "./api.js";
import { Upload, droppedFiles } from "./upload.js";
import { ask, confirmAction, shareDialog } from "./dialogs.js";
import { el, formatBytes, formatDate, joinPath } from "./dom.js";

const PAGE_SIZE = 200;
const PARALLEL_UPLOADS = 3;
const PREVIEW_MAX_BYTES = 25 * 1024 * 1024;
const TEXT_PREVIEW_BYTES = 256 * 1024;
// Rendered inline from a Blob. HTML, SVG and anything not listed only ever download.
const PREVIEW_KINDS = [
  [/^image\/(png|jpeg|gif|webp|avif|bmp)$/, "image"],
  [/^audio\//, "audio"],
  [/^video\//, "video"],
  [/^application\/pdf$/, "pdf"],
  [/^(text\/(plain|csv|markdown|x-[\w.+-]+)|application\/json)$/, "text"],
];

const $ = (id) => document.getElementById(id);

const state = {
  folder: "/",
  files: [],
  folders: [],
  cursor: null,
  sort: { key: "date", descending: true },
  filter: "",
  selected: new Set(),
  keysOff: false,
  generation: 0,
};

const uploads = { queue: [], running: 0 };

// -- status ---------------------------------------------------------------------------

function say(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401 && !state.keysOff) {
    signOut("Your key was not accepted: sign in again.");
    return;
  }
  say(error.message || "Something went wrong", true);
}

// -- sign-in and account ----------------------------------------------------------------

async function start() {
  bindControls();
  let me;
  try {
    me = await api("GET", "/me");
  } catch (error) {
    if (error.status === 401) {
      showSignIn("");
      return;
    }
    showSignIn(error.message);
    return;
  }
  state.keysOff = !session.key;
  showApp(me);
}

function showSignIn(message) {
  $("browser").hidden = true;
  $("account").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("api-key").focus();
}

function signOut(message = "") {
  session.signOut();
  state.files = [];
  state.folders = [];
  $("rows").replaceChildren();
  showSignIn(message);
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  session.signIn(key);
  try {
    const me = await api("GET", "/me");
    $("api-key").value = "";
    state.keysOff = false;
    showApp(me);
  } catch (error) {
    session.signOut();
    $("sign-in-error").textContent =
      error.status === 401 ? "That key was not accepted." : error.message;
  }
}

function showApp(me) {
  $("sign-in").hidden = true;
  $("browser").hidden = false;
  $("account").hidden = false;
  $("sign-out").hidden = state.keysOff;
  showUsage(me);
  openFolder(folderFromHash());
}

function showUsage(me) {
  $("user-name").textContent = me.name || me.user_id;
  const { bytes_used: used, quota_bytes: quota } = me.usage;
  const bar = $("quota-bar");
  bar.hidden = !quota;
  bar.max = quota || 1;
  bar.value = Math.min(used, quota || 0);
  $("quota-text").textContent = quota
    ? `${formatBytes(used)} of ${formatBytes(quota)} used`
    : `${formatBytes(used)} used`;
}

async function refreshUsage() {
  try {
    showUsage(await api("GET", "/me"));
  } catch {
    // the listing shows errors; the usage line can wait for the next refresh
  }
}

// -- browsing -------------------------------------------------------------------------

function folderFromHash() {
  let raw;
  try {
    raw = decodeURIComponent(location.hash.replace(/^#/, ""));
  } catch {
    return "/"; // a hand-edited address that is not valid percent-encoding
  }
  return raw.startsWith("/") && raw.length > 1 ? raw.replace(/\/+$/, "") : "/";
}

function openFolder(folder) {
  state.folder = folder;
  state.selected.clear();
  say("");
  renderCrumbs();
  $("delete-folder").hidden = folder === "/";
  loadPage(true);
}

async function loadPage(fresh) {
  const generation = fresh ? ++state.generation : state.generation;
  // The server sorts every file of the folder; pages continue in that order.
  const order = state.sort.descending ? "desc" : "asc";
  const params = { folder: state.folder, limit: PAGE_SIZE, prefix: state.filter, sort: state.sort.key, order };
  if (!fresh) params.cursor = state.cursor;
  $("load-more").disabled = true;
  try {
    const page = await api("GET", "/files" + query(params));
    if (generation !== state.generation) return; // a newer listing replaced this one
    if (fresh) {
      state.files = [];
      state.folders = page.folders || [];
    }
    state.files.push(...page.files);
    state.cursor = page.next_cursor;
    renderRows();
  } catch (error) {
    failed(error);
  } finally {
    $("load-more").disabled = false;
  }
}

function renderCrumbs() {
  const crumbs = [["Home", "/"]];
  let path = "";
  for (const part of state.folder.split("/").filter(Boolean)) {
    path += "/" + part;
    crumbs.push([part, path]);
  }
  const items = crumbs.map(([label, target], index) => {
    const last = index === crumbs.length - 1;
    const link = el("a", { href: "#" + encodeURI(target), text: label });
    if (last) link.setAttribute("aria-current", "page");
    return el("li", {}, [link]);
  });
  $("crumbs").replaceChildren(...items);
}

function renderRows() {
  const shown = new Set(state.files.map((file) => file.file_id));
  for (const id of state.selected) if (!shown.has(id)) state.selected.delete(id);
  const rows = [];
  const folders = state.filter
    ? state.folders.filter((f) => f.name.toLocaleLowerCase().startsWith(state.filter.toLocaleLowerCase()))
    : state.folders;
  for (const folder of folders) rows.push(folderRow(folder));
  for (const file of state.files) rows.push(fileRow(file));
  $("rows").replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  $("load-more").hidden = !state.cursor;
  for (const th of document.querySelectorAll("th[data-sort]")) {
    const active = th.dataset.sort === state.sort.key;
    th.setAttribute("aria-sort", active ? (state.sort.descending ? "descending" : "ascending") : "none");
  }
  updateSelection();
}

function folderRow(folder) {
  const link = el("a", { href: "#" + encodeURI(folder.path), class: "folder-link" }, [
    el("span", { class: "icon folder", "aria-hidden": "true" }),
    el("span", { text: folder.name }),
  ]);
  return el("tr", { class: "folder-row" }, [
    el("td", { class: "check" }),
    el("td", { class: "name" }, [link]),
    el("td", { class: "num" }),
    el("td", { class: "type-col muted", text: "Folder" }),
    el("td", { class: "date" }),
    el("td", { class: "actions" }),
  ]);
}

function fileRow(file) {
  const box = el("input", { type: "checkbox", "aria-label": `Select ${file.file_name}` });
  box.checked = state.selected.has(file.file_id);
  box.addEventListener("change", () => {
    if (box.checked) state.selected.add(file.file_id);
    else state.selected.delete(file.file_id);
    updateSelection();
  });
  const name = el("button", { type: "button", class: "file-name", title: "Preview" }, [
    el("span", { class: "icon file", "aria-hidden": "true" }),
    el("span", { text: file.file_name }),
  ]);
  name.addEventListener("click", () => preview(file));
  // Each button's name stays its verb; the row's file name is its description.
  const nameId = `name-${file.file_id}`;
  const action = (label, handler) => {
    const button = el("button", { type: "button", class: "small", text: label, "aria-describedby": nameId });
    button.addEventListener("click", () => handler(file));
    return button;
  };
  return el("tr", { "data-file-id": file.file_id }, [
    el("td", { class: "check" }, [box]),
    el("td", { class: "name", id: nameId }, [name]),
    el("td", { class: "num", text: formatBytes(file.file_size) }),
    el("td", { class: "type-col muted", text: file.file_type }),
    el("td", { class: "date", text: formatDate(file.created_at) }),
    el("td", { class: "actions" }, [
      action("Download", download),
      action("Share", share),
      action("Rename", rename),
      action("Move", move),
      action("Copy", copy),
      action("Delete", (f) => deleteFiles([f])),
    ]),
  ]);
}

function updateSelection() {
  const count = state.selected.size;
  const button = $("delete-selected");
  button.disabled = count === 0;
  button.textContent = count ? `Delete selected (${count})` : "Delete selected";
  const all = $("select-all");
  all.checked = count > 0 && count === state.files.length;
  all.indeterminate = count > 0 && count < state.files.length;
}

// -- acting on files ------------------------------------------------------------------

async function rename(file) {
  await ask({
    title: `Rename ${file.file_name}`,
    fields: [{ name: "file_name", label: "New name", value: file.file_name }],
    ok: "Rename",
    submit: async ({ file_name }) => {
      await api("PUT", `/files/${file.file_id}`, { json: { file_name } });
      say(`Renamed to ${file_name}`);
      loadPage(true);
    },
  });
}

async function move(file) {
  await ask({
    title: `Move ${file.file_name}`,
    fields: [{ name: "folder", label: "To folder", value: state.folder, suggestions: knownFolders() }],
    ok: "Move",
    submit: async ({ folder }) => {
      await api("PUT", `/files/${file.file_id}`, { json: { folder: cleanFolder(folder) } });
      say(`Moved ${file.file_name} to ${cleanFolder(folder)}`);
      loadPage(true);
    },
  });
}

async function copy(file) {
  await ask({
    title: `Copy ${file.file_name}`,
    fields: [
      { name: "file_name", label: "Name of the copy", value: `Copy of ${file.file_name}` },
      { name: "folder", label: "To folder", value: state.folder, suggestions: knownFolders() },
    ],
    ok: "Copy",
    submit: async ({ file_name, folder }) => {
      await api("POST", `/files/${file.file_id}/copy`, {
        json: { file_name, folder: cleanFolder(folder) },
      });
      say(`Copied ${file.file_name}`);
      loadPage(true);
      refreshUsage();
    },
  });
}

async function deleteFiles(files) {
  const names = files.map((f) => f.file_name);
  const what = files.length === 1 ? names[0] : `${files.length} files`;
  const confirmed = await confirmAction(`Delete ${what}?`, names, "Delete");
  if (!confirmed) return;
  try {
    if (files.length === 1) {
      await api("DELETE", `/files/${files[0].file_id}`);
    } else {
      const result = await api("POST", "/files/delete", {
        json: { file_ids: files.map((f) => f.file_id) },
      });
      const failures = result.files.filter((item) => item.status !== 200);
      if (failures.length) {
        throw new ApiError(207, failures[0].error.code,
          `${failures.length} of ${files.length} could not be deleted: ${failures[0].error.message}`);
      }
    }
    for (const file of files) state.selected.delete(file.file_id);
    say(`Deleted ${what}`);
  } catch (error) {
    failed(error);
  }
  loadPage(true);
  refreshUsage();
}

async function newFolder() {
  await ask({
    title: "New folder",
    fields: [{ name: "name", label: "Folder name", value: "" }],
    ok: "Create",
    submit: async ({ name }) => {
      const path = joinPath(state.folder, name.trim());
      await api("POST", "/folders", { json: { path } });
      say(`Created folder ${name.trim()}`);
      loadPage(true);
    },
  });
}

async function deleteFolder() {
  const folder = state.folder;
  const confirmed = await confirmAction(
    `Delete the folder ${folder}?`,
    ["Everything inside it is deleted too."],
    "Delete folder",
  );
  if (!confirmed) return;
  try {
    const result = await api("DELETE", "/folders" + query({ path: folder, recursive: "true" }));
    say(`Deleted ${folder} (${result.files_deleted} files)`);
    const parent = folder.replace(/\/[^/]+$/, "") || "/";
    location.hash = encodeURI(parent);
    refreshUsage();
  } catch (error) {
    failed(error);
  }
}

function knownFolders() {
  const paths = new Set(["/", state.folder]);
  for (const folder of state.folders) paths.add(folder.path);
  const parent = state.folder.replace(/\/[^/]+$/, "");
  if (parent) paths.add(parent);
  return [...paths];
}

function cleanFolder(value) {
  const trimmed = value.trim().replace(/\/+$/, "");
  if (!trimmed) return "/";
  return trimmed.startsWith("/") ? trimmed : joinPath(state.folder, trimmed);
}

// Downloads go through a one-time link that lives for a minute: the browser streams
// the file to disk itself (any size), and the key never appears in a URL.
async function download(file) {
  try {
    const link = await api("POST", `/files/${file.file_id}/links`, {
      json: { expires_in: 60, max_downloads: 1 },
    });
    const form = el("form", { method: "post", action: `/d/${encodeURIComponent(link.token)}`, hidden: "" });
    document.body.append(form);
    form.submit();
    form.remove();
    say(`Downloading ${file.file_name}`);
  } catch (error) {
    failed(error);
  }
}

function share(file) {
  shareDialog(file).catch(failed);
}

async function preview(file) {
  const kind = PREVIEW_KINDS.find(([pattern]) => pattern.test(file.file_type));
  if (!kind || file.file_size > PREVIEW_MAX_BYTES) {
    download(file);
    return;
  }
  const dialog = $("preview");
  const body = $("preview-body");
  $("preview-title").textContent = file.file_name;
  body.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  dialog.showModal();
  try {
    const blob = await fetchBlob(file.file_id);
    if (!dialog.open) return;
    let node;
    if (kind[1] === "text") {
      const text = await blob.slice(0, TEXT_PREVIEW_BYTES).text();
      node = el("pre", { class: "text-preview", text });
    } else {
      // Typed from our own allow-list, never from the blob's own type.
      const url = URL.createObjectURL(new Blob([blob], { type: file.file_type }));
      dialog.addEventListener("close", () => URL.revokeObjectURL(url), { once: true });
      node = {
        image: () => el("img", { src: url, alt: file.file_name }),
        audio: () => el("audio", { src: url, controls: "" }),
        video: () => el("video", { src: url, controls: "" }),
        pdf: () => pdfFrame(dialog, url, file.file_name),
      }[kind[1]]();
    }
    body.replaceChildren(node);
  } catch (error) {
    body.replaceChildren(el("p", { class: "error", role: "alert", text: error.message }));
  }
}

// Chromium's PDF viewer takes the focus once it has drawn the file, and Escape typed
// there never reaches the dialog: the first time it does, the focus goes back to Close.
function pdfFrame(dialog, url, title) {
  const frame = el("iframe", { src: url, title });
  const giveBack = () => {
    if (document.activeElement !== frame) return;
    window.removeEventListener("blur", giveBack);
    setTimeout(() => $("preview-close").focus()); // once the frame has the focus
  };
  window.addEventListener("blur", giveBack);
  dialog.addEventListener("close", () => window.removeEventListener("blur", giveBack), {
    once: true,
  });
  return frame;
}

// -- uploads --------------------------------------------------------------------------

function enqueue(items) {
  if (!items.length) return;
  $("uploads").hidden = false;
  for (const { file, dir } of items) {
    const folder = dir ? joinPath(state.folder, dir) : state.folder;
    const upload = new Upload(file, folder, renderUpload);
    upload.row = uploadRow(upload);
    $("upload-list").prepend(upload.row.item);
    uploads.queue.push(upload);
  }
  pump();
}

function pump() {
  while (uploads.running < PARALLEL_UPLOADS && uploads.queue.length) {
    const upload = uploads.queue.shift();
    if (upload.state === "cancelled") continue;
    uploads.running += 1;
    upload.start().then((file) => {
      uploads.running -= 1;
      // A new file here, or in a folder beneath (which may be new to this listing).
      if (file && isWithin(upload.folder, state.folder)) loadPage(true);
      if (file) refreshUsage();
      pump();
    });
  }
}

function isWithin(folder, ancestor) {
  return folder === ancestor || folder.startsWith(ancestor === "/" ? "/" : ancestor + "/");
}

function uploadRow(upload) {
  const bar = el("progress", { max: String(upload.file.size || 1), value: "0", "aria-label": `Upload progress of ${upload.name}` });
  const detail = el("span", { class: "muted detail" });
  const cancel = el("button", { type: "button", class: "small", text: "Cancel", "aria-label": `Cancel upload of ${upload.name}` });
  cancel.addEventListener("click", () => upload.cancel());
  const item = el("li", { class: "upload" }, [
    el("span", { class: "upload-name", text: upload.name }),
    bar,
    detail,
    cancel,
  ]);
  return { item, bar, detail, cancel };
}

function renderUpload(upload) {
  const { bar, detail, cancel, item } = upload.row;
  bar.value = upload.file.size ? upload.sent : upload.state === "done" ? 1 : 0;
  const percent = upload.file.size ? Math.floor((upload.sent * 100) / upload.file.size) : 100;
  const parts = [];
  if (upload.state === "uploading") {
    parts.push(`${percent}%`, `${formatBytes(upload.sent)} of ${formatBytes(upload.file.size)}`);
    if (upload.speed) parts.push(`${formatBytes(upload.speed)}/s`);
  } else if (upload.state === "done") {
    parts.push("Uploaded", formatBytes(upload.file.size));
  } else if (upload.state === "queued") {
    parts.push("Waiting");
  }
  if (upload.message) parts.push(upload.message);
  detail.textContent = parts.join(" · ");
  item.dataset.state = upload.state;
  item.classList.toggle("error", upload.state === "failed");
  cancel.hidden = ["done", "failed", "cancelled"].includes(upload.state);
}

// -- wiring ---------------------------------------------------------------------------

function bindControls() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("upload-button").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (event) => {
    enqueue([...event.target.files].map((file) => ({ file, dir: "" })));
    event.target.value = "";
  });
  $("new-folder").addEventListener("click", newFolder);
  $("delete-folder").addEventListener("click", deleteFolder);
  $("delete-selected").addEventListener("click", () => {
    const files = state.files.filter((f) => state.selected.has(f.file_id));
    if (files.length) deleteFiles(files);
  });
  $("select-all").addEventListener("change", (event) => {
    state.selected = new Set(event.target.checked ? state.files.map((f) => f.file_id) : []);
    renderRows();
  });
  $("load-more").addEventListener("click", () => loadPage(false));
  let filterTimer = null;
  $("filter").addEventListener("input", (event) => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      state.filter = event.target.value;
      loadPage(true);
    }, 250);
  });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sort = {
        key,
        descending: state.sort.key === key ? !state.sort.descending : key !== "name",
      };
      loadPage(true);
    });
  }
  $("preview-close").addEventListener("click", () => $("preview").close());
  window.addEventListener("hashchange", () => {
    if (!$("browser").hidden) openFolder(folderFromHash());
  });
  const zone = document.body;
  zone.addEventListener("dragover", (event) => {
    if ($("browser").hidden) return;
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  zone.addEventListener("dragleave", (event) => {
    if (event.target === document.body || !event.relatedTarget) document.body.classList.remove("dragging");
  });
  zone.addEventListener("drop", async (event) => {
    if ($("browser").hidden) return;
    event.preventDefault();
    document.body.classList.remove("dragging");
    enqueue(await droppedFiles(event.dataTransfer));
  });
}

start();
