// Shortify dashboard: the links page (/dashboard/links). Lists the
// workspace's links from GET /api/v1/links (search, tag filter, sort,
// pages), and creates, edits, disables and deletes them through the same
// API. It shares dashboard.js's helpers (window.shortifyDashboard): the
// key, the API calls, and writing what users wrote as text only
// (textContent, setAttribute), never as markup.
"use strict";

(function () {
  const D = window.shortifyDashboard;
  if (!D) return;
  const { api, el, say, explain, shownURL, safeHref, shownTime, fmt, key } = D;
  const $ = (id) => document.getElementById(id);

  // PAGE is how many links one page (and each "More") holds.
  const PAGE = 25;
  // SEARCH_MIN is the API's shortest search term (q): shorter ones have
  // no trigram to look up.
  const SEARCH_MIN = 3;

  // state is what the list shows: the filters (kept in the address too,
  // so a reload or a shared address shows the same), the next page's
  // cursor, and gen, which every reload bumps so that an older answer
  // arriving late is dropped rather than mixed into the new list.
  const state = { q: "", tags: [], sort: "created", cursor: "", gen: 0, role: "", clicksRefused: false };

  // links holds the links shown, by row key (domain + "/" + code).
  const links = new Map();
  const rowKey = (l) => (l.domain || "") + "/" + l.code;

  // linkPath is the API path of link l, with ?domain= for a custom domain.
  function linkPath(l, suffix) {
    return "/api/v1/links/" + encodeURIComponent(l.code) + (suffix || "") + (l.domain ? "?domain=" + encodeURIComponent(l.domain) : "");
  }

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
    if (key()) {
      try {
        state.role = (await api("/api/v1/stats/workspace")).role || "";
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
        state.clicksRefused = true;
        state.sort = "created";
        $("lk-sort").value = "created";
        $("lk-sort").querySelector('option[value="clicks"]').disabled = true;
        say("This server cannot sort links by clicks yet: " + err.message, true);
        return reload();
      }
      clearList(explain(err));
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
      if (gen === state.gen) say(explain(err), true);
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

    const clicks = el("div", { class: "lk-clicks" });
    // clicks arrives once the control plane keeps click totals; until
    // then a dash, not a made-up 0.
    clicks.append(el("span", { class: "lk-clicks-n" }, typeof l.clicks === "number" ? fmt(l.clicks) : "—"), el("span", { class: "muted" }, " clicks"));

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

  // ---- the editor: create and edit ----

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

  function openEditor(l) {
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
      if (was) {
        replaceRow(l);
        say("Saved " + l.code + ".");
        loadTags(); // the counts, and a tag no link has any more
      } else {
        say("Created " + l.short_url + ".");
        await Promise.all([reload(), loadTags()]);
      }
    } catch (err) {
      $("lk-save-state").textContent = "";
      const why = err.status === 401 || err.status === 403 ? " (" + (was ? "changing" : "creating") + " links needs a key of role creator or above" +
        (was ? ")" : ", or no key where anonymous creation is on)") : "";
      showProblem(err.field || "", err.message + why);
    } finally {
      $("lk-save").disabled = false;
    }
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
    $("lk-form").addEventListener("submit", save);
    $("lk-cancel").addEventListener("click", () => $("lk-editor").close());
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
      for (const d of ["lk-editor", "lk-confirm"]) if ($(d).open) $(d).close();
      $("lk-form").reset();
      applyRole();
      showTagChips();
      clearList("Enter an API key (role viewer or above) to see your links.");
    });
    everything();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
