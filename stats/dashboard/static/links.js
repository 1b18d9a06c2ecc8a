// Shortify dashboard: the links page (/dashboard/links). Lists the
// workspace's links from GET /api/v1/links (search, tag filter, sort,
// pages), and creates, edits, disables and deletes them through the same
// API. It takes the key, the API calls and the writing of what users
// wrote as text only (textContent, setAttribute, never markup) from the
// dashboard's modules, as dashboard.js does.
import { api, explain, key } from "./api.js";
import { $, el, say } from "./dom.js";
import { fmt, safeHref, shownTime, shownURL } from "./format.js";
import { closeEditor, initEditor, linkPath, openEditor } from "./linkform.js";

// PAGE is how many links one page (and each "More") holds.
const PAGE = 25;
// SEARCH_MIN is the API's shortest search term (q): shorter ones have
// no trigram to look up.
const SEARCH_MIN = 3;

// state is what the list shows: the filters (kept in the address too,
// so a reload or a shared address shows the same), the next page's
// cursor, and gen, which every reload bumps so that an older answer
// arriving late is dropped rather than mixed into the new list.
const state = { q: "", tags: [], sort: "created", cursor: "", gen: 0, role: "", allWorkspaces: false };

// links holds the links shown, by row key (domain + "/" + code).
const links = new Map();
const rowKey = (l) => (l.domain || "") + "/" + l.code;

function statsHref(l) {
  return "/dashboard/links/" + encodeURIComponent(l.code) + (l.domain ? "?domain=" + encodeURIComponent(l.domain) : "");
}

function readAddress() {
  const p = new URLSearchParams(location.search);
  state.q = (p.get("q") || "").trim();
  state.tags = p.getAll("tag").filter((t) => t.trim() !== "").slice(0, 20);
  state.sort = p.get("sort") === "clicks" ? "clicks" : "created";
  $("lk-q").value = state.q;
  $("lk-sort").value = state.sort;
}

function writeAddress() {
  const p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  for (const t of state.tags) p.append("tag", t);
  if (state.sort !== "created") p.set("sort", state.sort);
  const qs = p.toString();
  history.replaceState(null, "", location.pathname + (qs ? "?" + qs : ""));
}

function listQuery(cursor) {
  const p = new URLSearchParams();
  p.set("limit", String(PAGE));
  if (state.q.length >= SEARCH_MIN) p.set("q", state.q);
  for (const t of state.tags) p.append("tag", t);
  if (state.sort !== "created") p.set("sort", state.sort);
  if (cursor) p.set("cursor", cursor);
  return p.toString();
}

// ---- the role: what the key may do ----

const viewer = () => state.role === "viewer";
const VIEWER_NOTE = "This tab's key has role viewer: it can look, not change. Creating, editing, disabling and deleting links needs a key of role creator or above.";

// loadRole learns the key's role from the stats API, as the other pages
// do, so that a viewer key finds the writing buttons off with a note
// rather than getting 403s.
async function loadRole() {
  state.role = "";
  state.allWorkspaces = false;
  if (key()) {
    try {
      const v = await api("/api/v1/stats/workspace");
      state.role = v.role || "";
      state.allWorkspaces = !!(v.instance_admin && !v.workspace);
    } catch (_) {
      // Unknown: the API decides, and its refusals say why.
    }
  }
  applyRole();
}

function applyRole() {
  const v = viewer();
  $("lk-role-note").textContent = v ? VIEWER_NOTE : "";
  $("lk-role-note").hidden = !v;
  $("lk-new").disabled = v;
  for (const b of document.querySelectorAll("#lk-list .lk-write")) b.disabled = v || b.dataset.locked === "1";
}

// ---- the list ----

function clearList(note) {
  links.clear();
  $("lk-list").replaceChildren();
  $("lk-more").hidden = true;
  $("lk-summary").textContent = "";
  $("lk-empty").textContent = note || "";
  $("lk-empty").hidden = !note;
}

// reload shows the first page for the current filters.
async function reload() {
  const gen = ++state.gen;
  writeAddress();
  showTagChips();
  const short = state.q.length > 0 && state.q.length < SEARCH_MIN;
  $("lk-q-hint").textContent = short ? "Type at least " + SEARCH_MIN + " characters to search." : "";
  $("lk-q-hint").hidden = !short;
  if (!key()) {
    clearList("Enter an API key (role viewer or above) to see your links.");
    return;
  }
  $("lk-summary").textContent = "Loading…";
  let page;
  try {
    page = await api("/api/v1/links?" + listQuery(""));
  } catch (err) {
    if (gen !== state.gen) return;
    if (err.field === "sort" && state.sort === "clicks") {
      // A control plane from before click totals refuses sort=clicks.
      state.sort = "created";
      $("lk-sort").value = "created";
      $("lk-sort").querySelector('option[value="clicks"]').disabled = true;
      $("lk-sort-note").textContent = "This server cannot sort links by clicks yet: " + err.message;
      $("lk-sort-note").hidden = false;
      return reload();
    }
    clearList(explain(err, "your links"));
    return;
  }
  if (gen !== state.gen) return;
  clearList("");
  showPage(page);
}

async function more() {
  const gen = state.gen;
  $("lk-more").disabled = true;
  try {
    const page = await api("/api/v1/links?" + listQuery(state.cursor));
    if (gen === state.gen) showPage(page);
  } catch (err) {
    if (gen === state.gen) say(explain(err, "your links"), true);
  } finally {
    $("lk-more").disabled = false;
  }
}

function showPage(page) {
  const list = $("lk-list");
  for (const l of page.links || []) {
    links.set(rowKey(l), l);
    list.appendChild(row(l));
  }
  state.cursor = page.next_cursor || "";
  $("lk-more").hidden = !state.cursor;
  const n = links.size;
  const filtered = state.q.length >= SEARCH_MIN || state.tags.length > 0;
  $("lk-summary").textContent = n === 0 ? "" : fmt(n) + (n === 1 ? " link" : " links") + (state.cursor ? " shown, more below" : "") +
    (filtered ? " matching" : "") + (state.sort === "clicks" ? ", most clicks first" : ", newest first");
  $("lk-empty").textContent = n > 0 ? "" : filtered ? "No link matches." : "No links yet: create one with New link.";
  $("lk-empty").hidden = n > 0;
}

// badge is a small label of the link's state.
function badge(text, cls, title) {
  const b = el("span", { class: "lk-badge" + (cls ? " " + cls : "") }, text);
  if (title) b.setAttribute("title", title);
  return b;
}

// row builds the list item of link l: every value it shows is text.
function row(l) {
  const li = el("li", { class: "lk-row", "data-code": l.code });
  if (l.domain) li.dataset.domain = l.domain;
  li.classList.toggle("lk-disabled", !!l.disabled);

  const main = el("div", { class: "lk-main" });
  const top = el("div", { class: "lk-short" });
  const a = el("a", { href: safeHref(l.short_url), class: "lk-short-url", target: "_blank", rel: "noopener noreferrer" }, l.short_url);
  const copyBtn = el("button", { type: "button", class: "lk-copy lk-small", "aria-label": "Copy " + l.short_url }, "Copy");
  copyBtn.addEventListener("click", () => copy(l.short_url, copyBtn));
  top.append(a, copyBtn);
  main.appendChild(top);
  if (l.title) main.appendChild(el("p", { class: "lk-title" }, l.title));
  main.appendChild(el("p", { class: "lk-target target" }, shownURL(l.url)));
  if (l.tags && l.tags.length) {
    const ul = el("ul", { class: "lk-tags", "aria-label": "Tags" });
    for (const t of l.tags) {
      const b = el("button", { type: "button", class: "chip", title: "Show the links tagged " + t }, t);
      b.addEventListener("click", () => toggleTag(t, true));
      ul.appendChild(el("li")).appendChild(b);
    }
    main.appendChild(ul);
  }
  const meta = el("p", { class: "lk-meta muted" });
  const created = el("span", { title: l.created_at }, "Created " + shownTime(l.created_at));
  meta.appendChild(created);
  if (l.expires_at) {
    const past = new Date(l.expires_at) < new Date();
    meta.append(" · ", el("span", { title: l.expires_at }, (past ? "expired " : "expires ") + shownTime(l.expires_at)));
  }
  if (l.redirect_status) meta.append(" · " + l.redirect_status);
  if (l.external_id) meta.append(" · external ID ", el("code", { class: "lk-external-id" }, l.external_id));
  // An instance admin over every workspace: whose link it is.
  if (state.allWorkspaces) meta.append(" · workspace " + l.workspace);
  main.appendChild(meta);
  const badges = el("p", { class: "lk-badges" });
  if (l.disabled) badges.appendChild(badge("disabled", "off", "Answers 410 at the edge (or sends visitors to its expired URL)"));
  if (l.takedown) badges.appendChild(badge("taken down", "off", "By an administrator: " + (l.takedown.reason || "")));
  if (l.review) badges.appendChild(badge("flagged for review", "off"));
  if (l.password_protected) badges.appendChild(badge("password"));
  if (l.max_clicks) badges.appendChild(badge("max " + fmt(l.max_clicks) + " clicks"));
  if ((l.rules && l.rules.length) || (l.targets && l.targets.length)) badges.appendChild(badge("smart"));
  if (l.preview) badges.appendChild(badge("preview"));
  if (badges.childNodes.length) main.appendChild(badges);

  const clicks = el("div", { class: "lk-clicks", title: "All-time clicks, copied from the statistics every half minute or so (not live)" });
  // A control plane from before click totals (during a rolling upgrade)
  // sends no clicks: a dash, not a made-up 0.
  const counted = typeof l.clicks === "number";
  clicks.append(el("span", { class: "lk-clicks-n" }, counted ? fmt(l.clicks) : "—"), el("span", { class: "muted" }, l.clicks === 1 ? " click" : " clicks"));
  if (counted && typeof l.clicks_humans === "number") {
    clicks.appendChild(el("span", { class: "lk-clicks-humans muted" }, fmt(l.clicks_humans) + (l.clicks_humans === 1 ? " human" : " humans")));
  }

  const actions = el("div", { class: "lk-actions" });
  const qrBtn = el("button", { type: "button", class: "lk-qr-toggle lk-small", "aria-expanded": "false" }, "QR");
  const stats = el("a", { href: statsHref(l), class: "lk-stats" }, "Stats");
  const edit = el("button", { type: "button", class: "lk-edit lk-write lk-small" }, "Edit");
  const toggle = el("button", { type: "button", class: "lk-toggle lk-write lk-small" }, l.disabled ? "Enable" : "Disable");
  const del = el("button", { type: "button", class: "lk-delete lk-write lk-small danger" }, "Delete");
  // An administrator's takedown: the owner may delete, not change it.
  if (l.takedown) {
    for (const b of [edit, toggle]) {
      b.dataset.locked = "1";
      b.setAttribute("title", "Taken down by an administrator: it cannot be changed, only deleted");
    }
  }
  for (const b of [edit, toggle, del]) b.disabled = viewer() || b.dataset.locked === "1";
  edit.addEventListener("click", () => openEditor(links.get(rowKey(l))));
  toggle.addEventListener("click", () => setDisabled(links.get(rowKey(l)), toggle));
  del.addEventListener("click", () => confirmDelete(links.get(rowKey(l))));
  actions.append(qrBtn, stats, edit, toggle, del);

  const qrBox = el("div", { class: "lk-qr", hidden: "" });
  qrBtn.addEventListener("click", () => toggleQR(l, qrBtn, qrBox));

  li.append(main, clicks, actions, qrBox);
  return li;
}

function replaceRow(l) {
  const k = rowKey(l);
  links.set(k, l);
  for (const li of $("lk-list").children) {
    if ((li.dataset.domain || "") + "/" + li.dataset.code === k) {
      li.replaceWith(row(l));
      return;
    }
  }
}

function removeRow(l) {
  const k = rowKey(l);
  links.delete(k);
  for (const li of $("lk-list").children) {
    if ((li.dataset.domain || "") + "/" + li.dataset.code === k) li.remove();
  }
  if (links.size === 0 && !state.cursor) showPage({ links: [], next_cursor: "" });
}

// copy puts text on the clipboard: the Clipboard API where the browser
// allows it, else a selected hidden field and the copy command.
async function copy(text, btn) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (_) {
    const ta = el("textarea", { class: "lk-offscreen", readonly: "" });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    ta.remove();
  }
  btn.textContent = ok ? "Copied" : "Copy failed: select the link";
  setTimeout(() => { btn.textContent = "Copy"; }, 2000);
}

// toggleQR shows the link's QR code, fetched with the key (the route
// needs one, so an <img src> could not load it) and shown as a data:
// URL, which the policy allows; the same URL downloads it.
async function toggleQR(l, btn, box) {
  if (!box.hidden) {
    box.hidden = true;
    btn.setAttribute("aria-expanded", "false");
    return;
  }
  box.hidden = false;
  btn.setAttribute("aria-expanded", "true");
  if (box.childNodes.length) return;
  box.appendChild(el("p", { class: "muted" }, "Loading the QR code…"));
  try {
    const resp = await api(linkPath(l, "/qr") + (l.domain ? "&" : "?") + "format=png&size=256", { raw: true, headers: { Accept: "image/png" } });
    const data = await new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      resp.blob().then((b) => r.readAsDataURL(b), reject);
    });
    box.replaceChildren(el("img", { src: data, width: "160", height: "160", alt: "QR code of " + l.short_url }),
      el("a", { href: data, download: l.code + ".png", class: "lk-qr-download" }, "Download PNG"));
  } catch (err) {
    box.replaceChildren(el("p", { class: "muted" }, "No QR code: " + err.message));
  }
}

// ---- tags ----

let tagCounts = [];

async function loadTags() {
  tagCounts = [];
  if (key()) {
    try {
      tagCounts = (await api("/api/v1/tags")).tags || [];
    } catch (_) {
      // No chips; the list says what is wrong.
    }
  }
  showTagChips();
}

const sameTag = (a, b) => a.toLowerCase() === b.toLowerCase();

// showTagChips draws a chip per tag of the workspace, the picked ones
// pressed (and kept even when no live link has them any more).
function showTagChips() {
  const bar = $("lk-tagbar");
  bar.replaceChildren();
  const shown = tagCounts.map((t) => [t.tag, t.links]);
  for (const t of state.tags) if (!shown.some(([s]) => sameTag(s, t))) shown.unshift([t, 0]);
  for (const [t, n] of shown) {
    const on = state.tags.some((p) => sameTag(p, t));
    const b = el("button", { type: "button", class: "chip", "aria-pressed": on ? "true" : "false", "data-tag": t }, t);
    if (n) b.appendChild(el("span", { class: "chip-count" }, " " + fmt(n)));
    b.addEventListener("click", () => toggleTag(t, !on));
    bar.appendChild(b);
  }
  if (state.tags.length) {
    const clear = el("button", { type: "button", class: "chip chip-clear" }, "Clear tags");
    clear.addEventListener("click", () => { state.tags = []; reload(); });
    bar.appendChild(clear);
  }
  bar.hidden = shown.length === 0;
}

function toggleTag(t, on) {
  state.tags = state.tags.filter((p) => !sameTag(p, t));
  if (on) state.tags.push(t);
  state.tags = state.tags.slice(0, 20);
  reload();
}

// setDisabled turns the link off (410 at the edge) or on again.
async function setDisabled(l, btn) {
  btn.disabled = true;
  try {
    const updated = await api(linkPath(l), {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ disabled: !l.disabled }),
    });
    replaceRow(updated);
    say((updated.disabled ? "Disabled " : "Enabled ") + updated.code + ".");
  } catch (err) {
    btn.disabled = false;
    say("Could not change " + l.code + ": " + err.message, true);
  }
}

// ---- delete, after a confirmation ----

let deleting = null;

function confirmDelete(l) {
  deleting = l;
  $("lk-confirm-code").textContent = l.code;
  $("lk-confirm-short").textContent = l.short_url;
  $("lk-confirm-purge").checked = false;
  $("lk-confirm-error").hidden = true;
  $("lk-confirm-delete").disabled = false;
  $("lk-confirm").showModal();
  $("lk-confirm-cancel").focus(); // the safe choice is the default
}

async function doDelete() {
  const l = deleting;
  if (!l) return;
  $("lk-confirm-delete").disabled = true;
  const purge = $("lk-confirm-purge").checked ? (l.domain ? "&" : "?") + "purge_stats=true" : "";
  try {
    await api(linkPath(l) + purge, { method: "DELETE", raw: true });
    $("lk-confirm").close();
    deleting = null;
    removeRow(l);
    say("Deleted " + l.code + ".");
    loadTags();
  } catch (err) {
    $("lk-confirm-delete").disabled = false;
    $("lk-confirm-error").textContent = "Could not delete " + l.code + ": " + err.message;
    $("lk-confirm-error").hidden = false;
  }
}

// loadDomains offers the workspace's verified custom domains in the
// domain field (the route is a workspace admin's: other keys type it).
async function loadDomains() {
  $("lk-domains").replaceChildren();
  if (!key() || (state.role !== "admin")) return;
  try {
    const ds = (await api("/api/v1/domains")).domains || [];
    for (const d of ds) if (d.verified) $("lk-domains").appendChild(el("option", { value: d.domain }));
  } catch (_) {
    // Typed by hand, then.
  }
}

// everything reloads what a key shows: its role, tags and links.
async function everything() {
  await loadRole();
  await Promise.all([reload(), loadTags(), loadDomains()]);
}

function start() {
  if ($("page").dataset.page !== "links") return;
  readAddress();
  let typing = 0;
  $("lk-q").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const q = $("lk-q").value.trim();
      if (q === state.q) return;
      state.q = q;
      reload();
    }, 300);
  });
  $("lk-q").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    clearTimeout(typing);
    state.q = $("lk-q").value.trim();
    reload();
  });
  $("lk-sort").addEventListener("change", () => {
    state.sort = $("lk-sort").value === "clicks" ? "clicks" : "created";
    reload();
  });
  $("lk-more").addEventListener("click", more);
  $("lk-new").addEventListener("click", () => openEditor(null));
  initEditor(async (l, edited) => {
    if (edited) {
      replaceRow(l);
      say("Saved " + l.code + ".");
      loadTags(); // the counts, and a tag no link has any more
    } else {
      say("Created " + l.short_url + ".");
      await Promise.all([reload(), loadTags()]);
    }
  });
  $("lk-confirm-delete").addEventListener("click", doDelete);
  $("lk-confirm-cancel").addEventListener("click", () => $("lk-confirm").close());
  // dashboard.js's own handlers of these ran first (they were added
  // first): the key and the workspace are already stored.
  $("key-form").addEventListener("submit", () => everything());
  $("workspace-pick").addEventListener("change", () => everything());
  $("forget-key").addEventListener("click", () => {
    state.gen++;
    state.role = "";
    tagCounts = [];
    closeEditor();
    if ($("lk-confirm").open) $("lk-confirm").close();
    applyRole();
    showTagChips();
    clearList("Enter an API key (role viewer or above) to see your links.");
  });
  everything();
}

// After dashboard.js's start (its listener was added first, its script
// coming first in the page), so that its handlers of the key form run
// before this page's.
document.addEventListener("DOMContentLoaded", start);
