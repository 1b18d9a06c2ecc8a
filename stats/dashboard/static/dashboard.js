// Shortify dashboard. Fills the pages from the stats API and the control
// plane's API. Everything that comes from users (targets, referrers, ...)
// is written with textContent or setAttribute, never as HTML.
"use strict";

(function () {
  const KEY = "shortify-api-key";
  // WORKSPACE is the workspace an instance admin picked (its ID), sent as
  // the Shortify-Workspace header; none: every workspace.
  const WORKSPACE = "shortify-workspace";
  const DIMENSIONS = [
    ["referrer", "Referrers", "(direct)"],
    ["country", "Countries", "(unknown)"],
    ["device", "Devices", "(unknown)"],
    ["browser", "Browsers", "(unknown)"],
    ["os", "Operating systems", "(unknown)"],
    ["status", "Status served", "(none)"],
  ];
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const key = () => sessionStorage.getItem(KEY) || "";
  const picked = () => sessionStorage.getItem(WORKSPACE) || "";

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function say(text, isError) {
    const m = $("message");
    m.textContent = text;
    m.hidden = !text;
    m.classList.toggle("error", !!isError);
  }

  // api calls path with the key and returns the decoded JSON; a problem
  // document becomes an Error with its detail.
  async function api(path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    // A bearer token: the form Caddy's logs redact, and the documented one.
    if (key()) headers["Authorization"] = "Bearer " + key();
    if (key() && picked()) headers["Shortify-Workspace"] = picked();
    const asked = key() + "\n" + picked();
    const resp = await fetch(path, Object.assign({}, opts, { headers, credentials: "omit" }));
    // An answer for a key that was forgotten or changed meanwhile (or
    // another workspace) never settles: what it held must not come back
    // on screen after "Forget" cleared it.
    if (key() + "\n" + picked() !== asked) return new Promise(() => {});
    if (!resp.ok) {
      let detail = resp.status + " " + resp.statusText, field = "";
      try {
        const p = await resp.json();
        if (p && p.detail) detail = p.detail;
        if (p && typeof p.field === "string") field = p.field;
      } catch (_) { /* not JSON */ }
      const err = new Error(detail);
      err.status = resp.status;
      err.field = field;
      throw err;
    }
    return opts.raw ? resp : resp.json();
  }

  // domainQuery is "&domain=..." for a link page opened with ?domain=
  // (a link on a custom domain), else "".
  function domainQuery() {
    const d = new URLSearchParams(location.search).get("domain");
    return d ? "&domain=" + encodeURIComponent(d) : "";
  }

  // showWorkspace says whose statistics the pages show: the key's
  // workspace (name and ID), or, for an instance admin, every workspace
  // or the one picked, with a picker.
  async function showWorkspace() {
    const box = $("workspace"), pick = $("workspace-pick");
    if (!key()) {
      box.hidden = true;
      allowWrites("");
      return;
    }
    let v;
    try {
      v = await api("/api/v1/stats/workspace");
    } catch (err) {
      if (err.status === 404 && picked()) {
        // The picked workspace is gone: back to every workspace.
        sessionStorage.removeItem(WORKSPACE);
        return showWorkspace();
      }
      box.hidden = true;
      allowWrites("");
      return;
    }
    allowWrites(v.role);
    const name = (w) => w.name + " (ID " + w.id + ")";
    $("workspace-name").textContent = v.workspace ? name(v.workspace) : "instance admin: all workspaces";
    if (v.instance_admin && v.workspace) $("workspace-name").textContent = "instance admin: " + name(v.workspace);
    pick.hidden = $("workspace-pick-label").hidden = !v.instance_admin;
    if (v.instance_admin) {
      pick.replaceChildren(el("option", { value: "" }, "All workspaces"));
      for (const w of v.workspaces || []) pick.appendChild(el("option", { value: String(w.id) }, name(w)));
      pick.value = v.workspace ? String(v.workspace.id) : "";
    }
    box.hidden = false;
  }

  // WRITE_FORMS are the forms that need a key of role creator or above
  // (or, for creating, no key while anonymous creation is on), with the
  // note beside each.
  const WRITE_FORMS = [["create-form", "create-note"], ["smart-form", "smart-note"]];

  // allowWrites disables the forms a viewer key cannot use and says why,
  // rather than letting them fail with 403 (the stats API tells the key's
  // role); any other role, or none, leaves them to the API.
  function allowWrites(role) {
    const viewer = role === "viewer";
    for (const [form, note] of WRITE_FORMS) {
      if (!$(form)) continue;
      for (const e of $(form).querySelectorAll("input, textarea, select, button")) e.disabled = viewer;
      $(note).hidden = !viewer;
      $(note).textContent = viewer ? "This tab's key has role viewer: it can look, not change. " +
        (form === "create-form" ? "Creating a link needs a key of role creator or above (or, where anonymous creation is on, no key: Forget this one)."
          : "Saving needs a key of role creator or above.") : "";
    }
  }

  // clearData empties everything the pages filled from the APIs, so that
  // forgetting the key leaves nothing of what it showed on screen.
  function clearData() {
    for (const id of ["total-clicks", "total-humans", "total-bots", "total-visitors"]) if ($(id)) $(id).textContent = "–";
    lastSeries = null;
    for (const id of ["chart", "dims", "variant-list"]) if ($(id)) $(id).replaceChildren();
    if ($("variants")) $("variants").hidden = true;
    if ($("top-links")) $("top-links").tBodies[0].replaceChildren();
    if ($("created")) $("created").hidden = true;
    for (const id of ["link-short", "link-target", "link-created", "link-state"]) if ($(id)) $(id).textContent = "";
    if ($("link-short")) $("link-short").setAttribute("href", "#");
    if ($("smart-form")) {
      $("smart-form").reset();
      smartError("", "");
      $("smart-state").textContent = "";
    }
    if ($("qr")) noQR("");
  }

  function explain(err) {
    if (err.status === 401) return "Enter an API key (role viewer or above) to see statistics: " + err.message;
    return err.message;
  }

  // shownURL is u with its host in punycode, as the URL parser writes it,
  // and the rest as stored: the API stores hosts so, but a row written
  // before that (or behind the API's back) still shows a look-alike host
  // for what it is.
  function shownURL(u) {
    const m = /^([a-z][a-z0-9+.-]*:\/\/)([^\/?#]*)(.*)$/is.exec(u);
    if (!m || /^[\x20-\x7e]*$/.test(m[2])) return u;
    try {
      const at = m[2].lastIndexOf("@");
      return m[1] + (at >= 0 ? m[2].slice(0, at + 1) : "") + new URL(u).host + m[3];
    } catch (_) {
      return u;
    }
  }

  function safeHref(u) {
    return /^https?:\/\//i.test(u) ? u : "#";
  }

  function fmt(n) {
    return Number(n).toLocaleString("en");
  }

  function rangeQuery() {
    const g = $("range").value === "hour" ? "hour" : "day";
    $("range-label").textContent = g === "hour" ? "last 24 hours" : "last 30 days";
    return "granularity=" + g;
  }

  function showTotals(t) {
    $("total-clicks").textContent = fmt(t.clicks);
    $("total-humans").textContent = fmt(t.humans);
    $("total-bots").textContent = fmt(t.bots);
    $("total-visitors").textContent = fmt(t.visitors);
  }

  // traffic is the human/bot toggle's choice: "all", "human" or "bot".
  function traffic() {
    const t = $("traffic") ? $("traffic").value : "all";
    return t === "human" || t === "bot" ? t : "all";
  }

  // shownTime is an API timestamp (RFC 3339, microseconds) as a local,
  // readable time; the raw form stays in the element's title.
  function shownTime(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d)) return iso || "";
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // bucketLabel names a bucket: a day bucket is a UTC day, shown as that
  // date (converting it to local time could move it a day); an hour
  // bucket shows as the local hour it began.
  function bucketLabel(bucket, granularity, long) {
    const d = new Date(bucket);
    if (isNaN(d)) return bucket;
    if (granularity === "hour") {
      return d.toLocaleString(undefined, long ? { dateStyle: "medium", timeStyle: "short" } : { hour: "2-digit", minute: "2-digit" });
    }
    return d.toLocaleDateString(undefined, long ? { timeZone: "UTC", dateStyle: "medium" } : { timeZone: "UTC", month: "short", day: "numeric" });
  }

  // ticks are about n round values (1, 2 or 5 times a power of ten) from
  // 0 up to at least max, and at least three of them (a one-click day
  // gets 0, 1, 2 rather than a lone tick at the top).
  function ticks(max, n) {
    const raw = Math.max(1, max) / n;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = Math.max(1, [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw));
    const out = [0];
    while (out[out.length - 1] < max || out.length < 3) out.push(out[out.length - 1] + step);
    return out;
  }

  // lastSeries is the series drawn last, redrawn when the width changes.
  let lastSeries = null;

  // chart draws the series as stacked bars (humans below, bots above, or
  // only the class the toggle picks) at the box's real width, so that its
  // labels keep their size on a phone; each bucket tells its values on
  // hover (a title over the whole column), and a table below holds the
  // same numbers for screen readers and for copying.
  function chart(s) {
    lastSeries = s;
    const box = $("chart");
    const open = !!box.querySelector("details[open]");
    box.replaceChildren();
    if (!s) return;
    const t = traffic();
    const shown = (p) => (t === "human" ? p.humans : t === "bot" ? p.bots : p.clicks);
    const W = Math.max(280, Math.min(1100, box.clientWidth || 720)), H = 220, L = 44, B = 24, T = 10, R = 8;
    const pts = s.series;
    const tk = ticks(Math.max(0, ...pts.map(shown)), W < 500 ? 4 : 5);
    const max = tk[tk.length - 1];
    const bw = (W - L - R) / Math.max(1, pts.length);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    // A bar of a few clicks on a tall axis stays visible: at least 2 px
    // high and 3 px wide.
    const bar = (cls, lo, hi, x, w, tip) => {
      if (hi <= lo) return;
      const top = Math.min(y(hi), y(lo) - 2);
      const r = svg("rect", { x, y: top, width: w, height: y(lo) - top, class: cls });
      r.appendChild(svg("title", {}, tip));
      g.appendChild(r);
    };
    const g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Clicks over time (the table below has the numbers)", class: "chart-svg" });
    for (const v of tk) {
      g.appendChild(svg("line", { x1: L, y1: y(v), x2: W - R, y2: y(v), class: v === 0 ? "axis" : "grid" }));
      g.appendChild(svg("text", { x: L - 6, y: y(v) + 4, class: "label tick", "text-anchor": "end" }, fmt(v)));
    }
    const every = Math.max(1, Math.ceil(pts.length / Math.floor((W - L) / 70)));
    pts.forEach((p, i) => {
      const w = Math.max(3, bw * 0.8), x = L + i * bw + (bw - w) / 2;
      const tip = bucketLabel(p.bucket, s.granularity, true) + ": " + fmt(p.clicks) + " clicks (" + fmt(p.humans) + " humans, " +
        fmt(p.bots) + " bots), " + fmt(p.visitors) + " visitors";
      const col = svg("rect", { x: L + i * bw, y: T, width: bw, height: H - T - B, class: "hover" });
      col.appendChild(svg("title", {}, tip));
      g.appendChild(col);
      if (t !== "bot") bar("humans", 0, p.humans, x, w, tip);
      if (t === "bot") bar("bots", 0, p.bots, x, w, tip);
      else if (t === "all") bar("bots", p.humans, p.clicks, x, w, tip);
      if ((pts.length - 1 - i) % every === 0) {
        const anchor = i === pts.length - 1 ? "end" : "middle";
        const lx = i === pts.length - 1 ? Math.min(W - R, x + w) : x + w / 2;
        g.appendChild(svg("text", { x: lx, y: H - 6, class: "label", "text-anchor": anchor }, bucketLabel(p.bucket, s.granularity, false)));
      }
    });
    box.appendChild(g);
    const legend = el("p", { class: "legend" });
    if (t !== "bot") legend.append(el("span", { class: "swatch humans" }), " humans ");
    if (t !== "human") legend.append(el("span", { class: "swatch bots" }), " bots");
    box.appendChild(legend);
    const details = el("details", { class: "chart-table" });
    details.open = open;
    details.appendChild(el("summary", {}, "The numbers as a table"));
    const table = el("table");
    table.appendChild(el("caption", {}, "Clicks per " + (s.granularity === "hour" ? "hour" : "day")));
    const head = el("tr");
    for (const h of ["When", "Clicks", "Humans", "Bots", "Visitors"]) head.appendChild(el("th", { scope: "col" }, h));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    for (const p of pts) {
      const tr = el("tr");
      tr.append(el("th", { scope: "row" }, bucketLabel(p.bucket, s.granularity, true)), el("td", {}, fmt(p.clicks)),
        el("td", {}, fmt(p.humans)), el("td", {}, fmt(p.bots)), el("td", {}, fmt(p.visitors)));
      body.appendChild(tr);
    }
    details.appendChild(table);
    box.appendChild(details);
  }

  // dims fills the top-N lists of every dimension from base ("/api/v1/stats"
  // or "/api/v1/stats/links/CODE") with query q.
  async function dims(base, q) {
    const grid = $("dims");
    grid.replaceChildren();
    await Promise.all(DIMENSIONS.map(async ([dim, title, unknown]) => {
      const card = el("section", { class: "card", id: "dim-" + dim });
      card.appendChild(el("h3", {}, title));
      grid.appendChild(card);
      try {
        const top = await api(base + "/top/" + dim + "?" + q + "&traffic=" + traffic() + "&limit=8");
        if (top.items.length === 0) {
          card.appendChild(el("p", { class: "muted" }, "No clicks yet."));
          return;
        }
        const ol = el("ol", { class: "top" });
        for (const it of top.items) {
          const li = el("li");
          li.append(el("span", { class: "value" }, it.value || unknown), el("span", { class: "count" }, fmt(it.clicks)));
          ol.appendChild(li);
        }
        card.appendChild(ol);
      } catch (err) {
        card.appendChild(el("p", { class: "muted" }, explain(err)));
      }
    }));
  }

  async function overview() {
    const q = rangeQuery();
    try {
      const o = await api("/api/v1/stats/overview?" + q + "&traffic=" + traffic());
      showTotals(o.totals);
      chart(o);
      const body = $("top-links").tBodies[0];
      body.replaceChildren();
      for (const l of o.top_links) {
        const tr = el("tr");
        const td = el("td");
        td.appendChild(el("a", { href: "/dashboard/links/" + encodeURIComponent(l.code) }, l.code));
        tr.append(td, el("td", {}, fmt(l.clicks)), el("td", {}, fmt(l.humans)), el("td", {}, fmt(l.bots)));
        body.appendChild(tr);
      }
      if (o.top_links.length === 0) {
        const tr = el("tr");
        tr.appendChild(el("td", { colspan: "4", class: "muted" }, "No clicks yet."));
        body.appendChild(tr);
      }
      say("");
    } catch (err) {
      say(explain(err), true);
    }
    await dims("/api/v1/stats", q);
  }

  async function createLink(ev) {
    ev.preventDefault();
    const body = { url: $("create-url").value.trim() };
    const alias = $("create-alias").value.trim();
    if (alias) body.alias = alias;
    try {
      const l = await api("/api/v1/links", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const a = $("created-link");
      a.textContent = l.short_url;
      a.setAttribute("href", safeHref(l.short_url));
      $("created-stats").setAttribute("href", "/dashboard/links/" + encodeURIComponent(l.code) + (l.domain ? "?domain=" + encodeURIComponent(l.domain) : ""));
      $("created-target").textContent = shownURL(l.url);
      $("created").hidden = false;
      $("create-error").hidden = true;
      say("Created " + l.code + ".");
      $("create-form").reset();
    } catch (err) {
      const why = err.status === 401 || err.status === 403 ? " (creating a link needs a key of role creator or above, or no key where anonymous creation is on)" : "";
      $("create-error").textContent = "Could not create the link: " + err.message + why;
      $("create-error").hidden = false;
      say("Could not create the link: " + err.message + why, true);
    }
  }

  async function linkPage() {
    const code = $("page").dataset.code;
    const enc = encodeURIComponent(code);
    let linkID = "", link = null;
    try {
      const l = await api("/api/v1/links/" + enc + domainQuery().replace("&", "?"));
      linkID = l.id;
      link = l;
      const a = $("link-short");
      a.textContent = l.short_url;
      a.setAttribute("href", safeHref(l.short_url));
      $("link-target").textContent = shownURL(l.url);
      $("link-created").textContent = shownTime(l.created_at);
      $("link-created").setAttribute("title", l.created_at);
      $("link-state").textContent = l.disabled ? " · disabled" : l.expires_at ? " · expires " + shownTime(l.expires_at) : "";
      showSmart(l);
      qr(enc);
    } catch (err) {
      $("smart").hidden = true; // nothing to edit
      noQR(err.status === 404 ? "No QR code: no link has this code." : "No QR code: " + explain(err));
      say(err.status === 404 ? "No link has the code " + code + " (its statistics, if any, are below)." : explain(err), err.status !== 404);
    }
    const q = rangeQuery() + domainQuery() + (linkID ? "&link_id=" + encodeURIComponent(linkID) : "");
    const base = "/api/v1/stats/links/" + enc;
    try {
      const s = await api(base + "?" + q);
      showTotals(s.totals);
      chart(s);
    } catch (err) {
      say(explain(err), true);
    }
    $("csv").onclick = (ev) => download(ev, base + "/series.csv?" + q, code + ".csv");
    await Promise.all([dims(base, q), variants(base, q, link)]);
  }

  // variantURL is the URL that a variant's name ("url", "rules[0]",
  // "targets[1]") points to in link l now, or "" (a variant is named by
  // its position: an older click may have gone to another URL).
  function variantURL(l, name) {
    if (!l) return "";
    if (name === "url") return l.url || "";
    const m = /^(rules|targets)\[([0-9]+)\]$/.exec(name);
    const list = m && l[m[1]];
    return (list && list[Number(m[2])] && list[Number(m[2])].url) || "";
  }

  // variants shows the link's clicks per variant (which of a smart link's
  // targets they went to), only when some went elsewhere than its url.
  async function variants(base, q, link) {
    const box = $("variants"), list = $("variant-list");
    list.replaceChildren();
    box.hidden = true;
    try {
      const top = await api(base + "/top/variant?" + q + "&traffic=" + traffic() + "&limit=100");
      if (!top.items.some((it) => it.value !== "url")) return;
      for (const it of top.items) {
        const li = el("li");
        const name = el("span", { class: "value" }, it.value);
        const u = variantURL(link, it.value);
        if (u) name.appendChild(el("span", { class: "target muted" }, " " + shownURL(u)));
        li.append(name, el("span", { class: "count" }, fmt(it.clicks)));
        list.appendChild(li);
      }
      box.hidden = false;
    } catch (_) {
      // No variants to show: the other cards say what went wrong.
    }
  }

  // SMART maps the form's simple inputs to the link's fields.
  const SMART_NUMBERS = [["smart-max-clicks", "max_clicks"], ["smart-cache-max-age", "cache_max_age"]];
  const SMART_JSON = [["smart-rules", "rules"], ["smart-targets", "targets"]];
  const SMART_UTM = ["source", "medium", "campaign", "term", "content"];
  const SMART_PREVIEW = ["title", "description", "image"];

  // showSmart fills the smart-link form from the link l (GET
  // /api/v1/links/{code}).
  function showSmart(l) {
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
  function smartError(field, detail) {
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

  async function saveSmart(ev) {
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

  // qr shows the link's QR code: fetched with the key, shown as a data:
  // URL (the policy allows images from this origin and data: only).
  async function qr(enc) {
    try {
      const resp = await api("/api/v1/links/" + enc + "/qr?format=png&size=320" + domainQuery(), { raw: true, headers: { Accept: "image/png" } });
      const blob = await resp.blob();
      const reader = new FileReader();
      reader.onload = () => {
        $("qr").src = reader.result;
        $("qr").hidden = false;
        $("qr-message").hidden = true;
      };
      reader.readAsDataURL(blob);
    } catch (err) {
      noQR("No QR code: " + err.message);
    }
  }

  // noQR shows why there is no QR code instead of a broken image.
  function noQR(why) {
    $("qr").hidden = true;
    $("qr").removeAttribute("src");
    $("qr-message").textContent = why;
    $("qr-message").hidden = !why;
  }

  async function download(ev, path, name) {
    ev.preventDefault();
    try {
      const resp = await api(path, { raw: true, headers: { Accept: "text/csv" } });
      const url = URL.createObjectURL(await resp.blob());
      const a = el("a", { href: url, download: name });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      say(explain(err), true);
    }
  }

  function showKeyState() {
    $("key-state").textContent = key() ? "key set for this tab" : "no key";
  }

  function start() {
    const page = $("page").dataset.page;
    const load = page === "overview" ? overview : page === "link" ? linkPage : null;
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const k = $("api-key").value.trim();
      if (k) sessionStorage.setItem(KEY, k);
      $("api-key").value = "";
      sessionStorage.removeItem(WORKSPACE); // a new key starts in its own view
      showKeyState();
      showWorkspace().then(() => { if (load) load(); });
    });
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      sessionStorage.removeItem(WORKSPACE);
      clearData();
      showKeyState();
      showWorkspace();
      say("The key is forgotten and what it showed is cleared. Enter a key to see statistics again.");
    });
    $("workspace-pick").addEventListener("change", () => {
      const v = $("workspace-pick").value;
      if (v) sessionStorage.setItem(WORKSPACE, v);
      else sessionStorage.removeItem(WORKSPACE);
      showWorkspace().then(() => { if (load) load(); });
    });
    showKeyState();
    showWorkspace();
    if (page === "overview") $("create-form").addEventListener("submit", createLink);
    if (page === "link") $("smart-form").addEventListener("submit", saveSmart);
    if (load) {
      $("range").addEventListener("change", load);
      $("traffic").addEventListener("change", load);
      load();
    }
    // The chart is drawn at the box's width: redrawn when that changes.
    let resized = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(resized);
      resized = requestAnimationFrame(() => { if (lastSeries) chart(lastSeries); });
    });
    // The forms work from here on (tests wait for this).
    document.body.dataset.ready = "1";
  }

  // The links page's script (links.js) calls the API, builds elements and
  // shows URLs and times through these rather than copies of them.
  window.shortifyDashboard = Object.freeze({ api, el, say, explain, shownURL, safeHref, shownTime, fmt, key });

  document.addEventListener("DOMContentLoaded", start);
})();
