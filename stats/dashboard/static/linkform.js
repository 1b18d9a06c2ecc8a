// Shortify dashboard: the links page's editor (links.html's dialog
// #lk-editor), which creates a link (POST /api/v1/links) or edits one
// (PATCH /api/v1/links/{code}) with every field the API takes, and shows
// the API's refusal next to the input of the field its problem names.
// Like links.js it writes what users wrote as text only.

import { api } from "./api.js";
import { $, el } from "./dom.js";

// linkPath is the API path of link l (plus suffix, such as "/qr"), with
// ?domain= for a link on a custom domain.
export function linkPath(l, suffix) {
  return "/api/v1/links/" + encodeURIComponent(l.code) + (suffix || "") + (l.domain ? "?domain=" + encodeURIComponent(l.domain) : "");
}

// onSaved is told of every link created or saved (initEditor sets it).
let onSaved = async () => {};

// editing is the link the editor edits, null when it creates one;
// original is what the form read when it was filled, so that an edit
// sends only what changed (an unchanged past expiry is not refused).
let editing = null, original = null;

const UTM = ["source", "medium", "campaign", "term", "content"];
const PREVIEW = ["title", "description", "image"];
const NUMBERS = [["lk-f-max-clicks", "max_clicks"], ["lk-f-cache", "cache_max_age"]];
const JSONS = [["lk-f-rules", "rules"], ["lk-f-targets", "targets"]];

const val = (id) => $(id).value.trim();

// localInput is an RFC 3339 time as a datetime-local value (local time).
function localInput(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return "";
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
}

// readForm reads the form into the API's fields, empty ones as null
// (or "", [] and false where the API clears with those); a value the
// form can tell is wrong throws {field, detail}.
function readForm() {
  const v = { url: val("lk-f-url"), alias: val("lk-f-alias"), domain: val("lk-f-domain"), title: val("lk-f-title"), notes: $("lk-f-notes").value };
  // external_id is the creator's own identifier (unique in the
  // workspace); "" clears it on an edit.
  v.external_id = $("lk-f-external-id").value; // kept exactly, spaces too
  v.tags = $("lk-f-tags").value.split(",").map((t) => t.trim()).filter((t) => t !== "");
  const exp = $("lk-f-expires").value;
  if (exp) {
    const d = new Date(exp);
    if (isNaN(d)) throw { field: "expires_at", detail: "not a date and time" };
    v.expires_at = d.toISOString();
  } else {
    v.expires_at = null;
  }
  v.redirect_status = Number($("lk-f-status").value) || 0;
  for (const [id, f] of NUMBERS) {
    const s = val(id);
    if (s !== "" && !/^[0-9]+$/.test(s)) throw { field: f, detail: "a whole number, or empty for none" };
    v[f] = s === "" || s === "0" ? null : Number(s);
  }
  v.expired_url = val("lk-f-expired-url") || null;
  v.forward_query = $("lk-f-forward").checked;
  v.forward_query_override = $("lk-f-forward-override").checked;
  const utm = {}, preview = {};
  for (const k of UTM) if (val("lk-f-utm-" + k)) utm[k] = val("lk-f-utm-" + k);
  for (const k of PREVIEW) if (val("lk-f-preview-" + k)) preview[k] = val("lk-f-preview-" + k);
  v.utm = Object.keys(utm).length ? utm : null;
  v.preview = Object.keys(preview).length ? preview : null;
  for (const [id, f] of JSONS) {
    const s = val(id);
    if (s === "") {
      v[f] = null;
      continue;
    }
    try {
      v[f] = JSON.parse(s);
    } catch (e) {
      throw { field: f, detail: "not JSON: " + e.message };
    }
  }
  return v;
}

// createBody is a create's body: the fields given, nothing empty.
function createBody(v) {
  const body = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null || x === "" || x === false || x === 0 || (Array.isArray(x) && x.length === 0)) continue;
    body[k] = x;
  }
  if ($("lk-f-password").value) body.password = $("lk-f-password").value;
  return body;
}

// patchBody is an edit's body: the fields that changed since the form
// was filled (alias and domain name the link and stay).
function patchBody(v) {
  const body = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "alias" || k === "domain") continue;
    if (JSON.stringify(x) !== JSON.stringify(original[k])) body[k] = x;
  }
  if ($("lk-f-password-remove").checked) body.password = null;
  else if ($("lk-f-password").value) body.password = $("lk-f-password").value;
  return body;
}

// fill puts link l (or nothing, for a new link) into the form.
function fill(l) {
  $("lk-form").reset();
  const x = l || {};
  $("lk-f-url").value = x.url || "";
  $("lk-f-alias").value = x.code || "";
  $("lk-f-domain").value = x.domain || "";
  $("lk-f-alias").readOnly = $("lk-f-domain").readOnly = !!l;
  $("lk-f-title").value = x.title || "";
  $("lk-f-external-id").value = x.external_id || "";
  $("lk-f-tags").value = (x.tags || []).join(", ");
  $("lk-f-notes").value = x.notes || "";
  $("lk-f-expires").value = localInput(x.expires_at);
  $("lk-f-status").value = String(x.redirect_status || 0);
  $("lk-f-max-clicks").value = x.max_clicks ? String(x.max_clicks) : "";
  $("lk-f-cache").value = x.cache_max_age ? String(x.cache_max_age) : "";
  $("lk-f-expired-url").value = x.expired_url || "";
  $("lk-f-forward").checked = !!x.forward_query;
  $("lk-f-forward-override").checked = !!x.forward_query_override;
  for (const k of UTM) $("lk-f-utm-" + k).value = (x.utm && x.utm[k]) || "";
  for (const k of PREVIEW) $("lk-f-preview-" + k).value = (x.preview && x.preview[k]) || "";
  for (const [id, f] of JSONS) $(id).value = x[f] && x[f].length ? JSON.stringify(x[f], null, 2) : "";
  $("lk-f-protected").textContent = x.password_protected ? "This link has a password; a new one replaces it." : "";
  $("lk-f-protected").hidden = !x.password_protected;
  $("lk-f-password-remove-label").hidden = !x.password_protected;
  $("lk-f-password").setAttribute("placeholder", l && x.password_protected ? "unchanged when empty" : "none when empty");
  // Sections with something set in them open, the others stay folded.
  $("lk-smart").open = !!(x.password_protected || x.max_clicks || x.expired_url || x.cache_max_age || x.forward_query || x.utm || x.preview);
  $("lk-advanced").open = !!((x.rules && x.rules.length) || (x.targets && x.targets.length));
}

export function openEditor(l) {
  if (!l && editing === null && $("lk-editor").open) return;
  editing = l || null;
  fill(editing);
  clearErrors();
  original = readForm();
  $("lk-editor-title").textContent = l ? "Edit " + l.code : "New link";
  $("lk-save").textContent = l ? "Save" : "Create";
  $("lk-save-state").textContent = "";
  $("lk-save").disabled = false;
  $("lk-editor").showModal();
  (l ? $("lk-f-title") : $("lk-f-url")).focus();
}

function clearErrors() {
  for (const e of document.querySelectorAll("#lk-form [aria-invalid]")) e.removeAttribute("aria-invalid");
  for (const e of document.querySelectorAll("#lk-form .lk-field-error")) e.remove();
  $("lk-form-error").hidden = true;
  $("lk-form-error").textContent = "";
}

// inputFor is the form's input for an API field path: the exact name
// (utm.source), else the field without its index or sub-path (tags[1]
// → tags, rules[0].when.colour → rules).
function inputFor(field) {
  const names = [field, field.replace(/\[[0-9]+\].*$/, ""), field.split(/[.[]/)[0]];
  for (const n of names) {
    const i = document.querySelector('#lk-form [name="' + CSS.escape(n) + '"]');
    if (i) return i;
  }
  return null;
}

// showProblem shows a refusal: next to the input of the field the
// problem names (its section opened, the input marked and focused), or
// above the form when it names none.
function showProblem(field, detail) {
  const input = field ? inputFor(field) : null;
  if (!input) {
    $("lk-form-error").textContent = (field ? field + ": " : "") + detail;
    $("lk-form-error").hidden = false;
    return;
  }
  const details = input.closest("details");
  if (details) details.open = true;
  input.setAttribute("aria-invalid", "true");
  const box = input.closest(".lk-field") || input.parentElement;
  const msg = el("p", { class: "lk-field-error", role: "alert", "data-field": field });
  msg.append(el("strong", {}, field + ":"), " " + detail);
  box.appendChild(msg);
  input.focus();
}

async function save(ev) {
  ev.preventDefault();
  clearErrors();
  let body;
  try {
    const v = readForm();
    body = editing ? patchBody(v) : createBody(v);
  } catch (e) {
    if (e && e.field) return showProblem(e.field, e.detail);
    throw e;
  }
  if (editing && Object.keys(body).length === 0) {
    $("lk-save-state").textContent = "Nothing changed.";
    return;
  }
  const was = editing;
  $("lk-save").disabled = true;
  $("lk-save-state").textContent = was ? "Saving…" : "Creating…";
  try {
    const l = await api(was ? linkPath(was) : "/api/v1/links", {
      method: was ? "PATCH" : "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    $("lk-editor").close();
    await onSaved(l, !!was);
  } catch (err) {
    $("lk-save-state").textContent = "";
    const why = err.status === 401 || err.status === 403 ? " (" + (was ? "changing" : "creating") + " links needs a key of role creator or above" +
      (was ? ")" : ", or no key where anonymous creation is on)") : "";
    showProblem(err.field || "", err.message + why);
  } finally {
    $("lk-save").disabled = false;
  }
}

// initEditor wires the editor's buttons; saved(link, edited) is called
// after each create (edited false) or save (edited true), the dialog
// closed.
export function initEditor(saved) {
  onSaved = saved;
  $("lk-form").addEventListener("submit", save);
  $("lk-cancel").addEventListener("click", () => $("lk-editor").close());
}

// closeEditor closes the editor and empties it (the key was forgotten).
export function closeEditor() {
  if ($("lk-editor").open) $("lk-editor").close();
  $("lk-form").reset();
  editing = original = null;
}
