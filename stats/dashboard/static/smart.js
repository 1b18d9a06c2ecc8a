// Shortify dashboard: a link page's smart-link form, filled from GET and
// saved with PATCH /api/v1/links/{code}; the API checks the rules and the
// split, and its refusal shows next to the form with the field it names.
import { api, domainQuery } from "./api.js";
import { $ } from "./dom.js";
import { shownURL } from "./format.js";

// SMART maps the form's simple inputs to the link's fields.
const SMART_NUMBERS = [["smart-max-clicks", "max_clicks"], ["smart-cache-max-age", "cache_max_age"]];
const SMART_JSON = [["smart-rules", "rules"], ["smart-targets", "targets"]];
const SMART_UTM = ["source", "medium", "campaign", "term", "content"];
const SMART_PREVIEW = ["title", "description", "image"];

// showSmart fills the smart-link form from the link l (GET
// /api/v1/links/{code}).
export function showSmart(l) {
  $("smart-protected").textContent = l.password_protected ? "protected" : "not protected";
  $("smart-password").value = "";
  $("smart-password-remove").checked = false;
  $("smart-password-remove").disabled = !l.password_protected;
  for (const [id, f] of SMART_NUMBERS) $(id).value = l[f] ? String(l[f]) : "";
  $("smart-expired-url").value = l.expired_url || "";
  for (const [id, f] of SMART_JSON) $(id).value = l[f] && l[f].length ? JSON.stringify(l[f], null, 2) : "";
  $("smart-forward-query").checked = !!l.forward_query;
  $("smart-forward-query-override").checked = !!l.forward_query_override;
  for (const k of SMART_UTM) $("smart-utm-" + k).value = (l.utm && l.utm[k]) || "";
  $("smart-form").dataset.utm = l.utm ? "1" : ""; // emptied fields then remove them
  for (const k of SMART_PREVIEW) $("smart-preview-" + k).value = (l.preview && l.preview[k]) || "";
}

// smartError shows a refusal next to the form: the field it names (the
// API's problem "field", a JSON path such as rules[0].when.colour) and
// the detail, and marks the input the field belongs to.
export function smartError(field, detail) {
  for (const e of document.querySelectorAll("#smart-form [aria-invalid]")) e.removeAttribute("aria-invalid");
  $("smart-error").hidden = !detail;
  $("smart-error-field").textContent = field ? field + ":" : "";
  $("smart-error-detail").textContent = detail || "";
  if (!field) return;
  const top = field.split(/[.[]/)[0];
  const input = document.querySelector('#smart-form [name="' + CSS.escape(top) + '"]') ||
    document.querySelector('#smart-form [name="' + CSS.escape(field.replace(".", "_")) + '"]');
  if (input) input.setAttribute("aria-invalid", "true");
}

// smartBody reads the form into a PATCH body: every field sent, an empty
// one as null (cleared); the password only when typed or removed.
function smartBody() {
  const body = {};
  const pw = $("smart-password").value;
  if ($("smart-password-remove").checked) body.password = null;
  else if (pw) body.password = pw;
  for (const [id, f] of SMART_NUMBERS) {
    const v = $(id).value.trim();
    if (v !== "" && !/^[0-9]+$/.test(v)) throw { field: f, detail: "a whole number of at least 1, or empty for none" };
    body[f] = v === "" ? null : Number(v);
  }
  body.expired_url = $("smart-expired-url").value.trim() || null;
  for (const [id, f] of SMART_JSON) {
    const v = $(id).value.trim();
    if (v === "") {
      body[f] = null;
      continue;
    }
    try {
      body[f] = JSON.parse(v);
    } catch (e) {
      throw { field: f, detail: "not JSON: " + e.message };
    }
  }
  body.forward_query = $("smart-forward-query").checked;
  body.forward_query_override = $("smart-forward-query-override").checked;
  const utm = {};
  for (const k of SMART_UTM) {
    const v = $("smart-utm-" + k).value.trim();
    if (v) utm[k] = v;
  }
  if (Object.keys(utm).length) body.utm = utm;
  else if ($("smart-form").dataset.utm) body.utm = null; // removes the url's utm_* parameters
  const preview = {};
  for (const k of SMART_PREVIEW) {
    const v = $("smart-preview-" + k).value.trim();
    if (v) preview[k] = v;
  }
  body.preview = Object.keys(preview).length ? preview : null;
  return body;
}

export async function saveSmart(ev) {
  ev.preventDefault();
  let body;
  try {
    body = smartBody();
  } catch (e) {
    smartError(e.field, e.detail);
    return;
  }
  const enc = encodeURIComponent($("page").dataset.code);
  $("smart-state").textContent = "Saving…";
  try {
    const l = await api("/api/v1/links/" + enc + domainQuery().replace("&", "?"), {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    smartError("", "");
    showSmart(l);
    $("link-target").textContent = shownURL(l.url);
    $("smart-state").textContent = "Saved.";
  } catch (err) {
    $("smart-state").textContent = "";
    smartError(err.field || "", err.status === 401 || err.status === 403 ? "Saving needs a key of role creator or above: " + err.message : err.message);
  }
}
