// Dialogs on the page's one <dialog>: forms that stay open on an error and show
// the server's message; the share dialog.

import { api } from "./api.js";
import { el, formatDate } from "./dom.js";

const $ = (id) => document.getElementById(id);

// Opens the dialog with `body`; `submit` runs on OK and may throw (the message shows,
// the dialog stays). Resolves true when submitted, false when cancelled.
// `focusCancel`: for what cannot be undone, so Enter cancels unless OK is chosen.
function open({ title, body, ok, submit, cancelLabel = "Cancel", okHidden = false, focusCancel = false }) {
  const dialog = $("dialog");
  const form = $("dialog-form");
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(...body);
  $("dialog-error").textContent = "";
  const okButton = $("dialog-ok");
  okButton.textContent = ok;
  okButton.hidden = okHidden;
  $("dialog-cancel").textContent = cancelLabel;
  return new Promise((resolve) => {
    const finish = (result) => {
      form.removeEventListener("submit", onSubmit);
      $("dialog-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(result);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(false);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      okButton.disabled = true;
      try {
        const keepOpen = await submit();
        if (keepOpen !== true) finish(true);
      } catch (error) {
        $("dialog-error").textContent = error.message;
      } finally {
        okButton.disabled = false;
      }
    };
    form.addEventListener("submit", onSubmit);
    $("dialog-cancel").addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    const first = $("dialog-body").querySelector("input, select");
    (first || (focusCancel ? $("dialog-cancel") : okButton)).focus();
    if (first && first.select) first.select();
  });
}

let fieldCount = 0;

function field({ name, label, value = "", type = "text", suggestions, required = true }) {
  const id = `field-${++fieldCount}`;
  const input = el("input", { id, name, type, autocomplete: "off" });
  input.value = value;
  if (required) input.required = true;
  const parts = [el("label", { for: id, text: label }), input];
  if (suggestions) {
    const list = el("datalist", { id: `${id}-list` }, suggestions.map((s) => el("option", { value: s })));
    input.setAttribute("list", list.id);
    parts.push(list);
  }
  return { input, node: el("div", { class: "field" }, parts) };
}

export function ask({ title, fields, ok, submit }) {
  const built = fields.map(field);
  return open({
    title,
    ok,
    body: built.map((f) => f.node),
    submit: () => {
      const values = {};
      for (const f of built) values[f.input.name] = f.input.value;
      return submit(values);
    },
  });
}

export function confirmAction(title, lines, ok) {
  const list = el("ul", { class: "confirm-list" }, lines.slice(0, 20).map((line) => el("li", { text: line })));
  const more = lines.length > 20 ? [el("p", { text: `and ${lines.length - 20} more` })] : [];
  return open({ title, ok, body: [list, ...more], submit: async () => {}, focusCancel: true });
}

const EXPIRY_CHOICES = [
  ["", "Never"],
  ["3600", "1 hour"],
  ["86400", "1 day"],
  ["604800", "7 days"],
  ["2592000", "30 days"],
];

function select(id, label, choices) {
  const input = el("select", { id, name: id }, choices.map(([value, text]) => el("option", { value, text })));
  return { input, node: el("div", { class: "field" }, [el("label", { for: id, text: label }), input]) };
}

function describeLink(link) {
  const parts = [link.state === "active" ? "Active" : link.state.replace("_", " ")];
  parts.push(link.expires_at ? `expires ${formatDate(link.expires_at)}` : "no expiry");
  parts.push(
    link.max_downloads ? `${link.downloads} of ${link.max_downloads} downloads` : `${link.downloads} downloads`,
  );
  if (link.has_password) parts.push("password");
  return parts.join(" · ");
}

export async function shareDialog(file) {
  const expiry = select("share-expiry", "Expires", EXPIRY_CHOICES);
  const limit = select("share-limit", "Downloads", [
    ["", "Unlimited"],
    ["1", "One-time"],
    ["n", "A number of downloads"],
  ]);
  const count = field({ name: "count", label: "Number of downloads", value: "5", type: "number", required: false });
  count.input.min = "1";
  count.node.hidden = true;
  limit.input.addEventListener("change", () => {
    count.node.hidden = limit.input.value !== "n";
  });
  const password = field({ name: "password", label: "Password (optional)", type: "password", required: false });
  password.input.autocomplete = "new-password";
  const made = el("div", { class: "made", hidden: "" });
  const links = el("ul", { class: "links", "aria-label": "Links to this file" });
  const refresh = async () => {
    const { links: all } = await api("GET", `/files/${file.file_id}/links`);
    const active = all.filter((link) => link.state === "active");
    links.replaceChildren(
      ...(active.length ? active : []).map((link) => {
        const revoke = el("button", { type: "button", class: "small", text: "Revoke" });
        revoke.addEventListener("click", async () => {
          revoke.disabled = true;
          try {
            await api("DELETE", `/links/${encodeURIComponent(link.link_id)}`);
            await refresh();
          } catch (error) {
            $("dialog-error").textContent = error.message;
            revoke.disabled = false;
          }
        });
        return el("li", {}, [el("span", { text: describeLink(link) }), revoke]);
      }),
    );
    if (!active.length) links.append(el("li", { class: "muted", text: "No active links." }));
  };
  await refresh();
  return open({
    title: `Share ${file.file_name}`,
    ok: "Create link",
    cancelLabel: "Close",
    body: [
      expiry.node,
      limit.node,
      count.node,
      password.node,
      made,
      el("h3", { text: "Active links" }),
      links,
    ],
    submit: async () => {
      const body = {};
      if (expiry.input.value) body.expires_in = Number(expiry.input.value);
      if (limit.input.value === "1") body.max_downloads = 1;
      if (limit.input.value === "n") body.max_downloads = Number(count.input.value);
      if (password.input.value) body.password = password.input.value;
      const link = await api("POST", `/files/${file.file_id}/links`, { json: body });
      const url = el("input", { type: "text", readonly: "", "aria-label": "Share link", class: "link-url" });
      url.value = link.url;
      const copyButton = el("button", { type: "button", class: "small", text: "Copy link" });
      copyButton.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(link.url);
          copyButton.textContent = "Copied";
        } catch {
          url.select();
          copyButton.textContent = "Press Ctrl+C";
        }
      });
      made.replaceChildren(el("label", { text: "New link", class: "label" }), url, copyButton);
      made.hidden = false;
      password.input.value = "";
      url.select();
      await refresh();
      return true; // stay open: copy the link, make another, revoke
    },
  });
}
