// Shortify dashboard. Fills the pages from the stats API and the control
// plane's API. Everything that comes from users (targets, referrers, ...)
// is written with textContent or setAttribute, never as HTML. A module:
// the API calls, the chart, the date range, the countries card and the
// smart-link form are modules of their own beside it.
import { api, domainQuery, explain, key, KEY, picked, WORKSPACE } from "./api.js";
import { chart } from "./chart.js";
import { countryList } from "./countries.js";
import { $, el, say } from "./dom.js";
import { fmt, safeHref, shownTime, shownURL } from "./format.js";
import * as range from "./range.js";
import { saveSmart, showSmart, smartError } from "./smart.js";

(function () {
  const DIMENSIONS = [
    ["referrer", "Referrers", "(direct)"],
    ["country", "Countries", "(unknown)"],
    ["device", "Devices", "(unknown)"],
    ["browser", "Browsers", "(unknown)"],
    ["os", "Operating systems", "(unknown)"],
    ["status", "Status served", "(none)"],
  ];
  // COUNTRIES is the length of the countries' ranked list (the other
  // cards show 8).
  const COUNTRIES = 15;

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
    clearStats();
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

  // shownCount is an item's clicks (a top item, the totals) of the
  // traffic the toggle picks.
  function shownCount(it) {
    const t = traffic();
    return t === "human" ? it.humans : t === "bot" ? it.bots : it.clicks;
  }

  // lastSeries is the series drawn last, redrawn when the width changes.
  let lastSeries = null;

  // showSeries shows a series answer's totals and chart, and returns its
  // total of the traffic shown (what the countries' shares are of).
  function showSeries(s) {
    showTotals(s.totals);
    lastSeries = s;
    chart($("chart"), s, traffic());
    return shownCount(s.totals);
  }

  // picker is the statistics pages' date range (range.js), set by start.
  let picker = null;

  // generation counts the loads of a page's statistics: an answer to an
  // older load (another range, another toggle) is not shown over a newer
  // one's.
  let generation = 0;

  // busy wraps a page's load so that the page is marked aria-busy until
  // the newest load is done (screen readers and tests wait for that).
  function busy(load) {
    return async () => {
      $("page").setAttribute("aria-busy", "true");
      const done = load();
      const gen = generation; // load counted itself before its first await
      await done;
      if (gen === generation) $("page").removeAttribute("aria-busy");
    };
  }

  // clearStats empties the totals, the chart and the cards, for a range
  // the page or the API refused: nothing on screen is of another range.
  function clearStats() {
    for (const id of ["total-clicks", "total-humans", "total-bots", "total-visitors"]) if ($(id)) $(id).textContent = "–";
    lastSeries = null;
    for (const id of ["chart", "dims", "variant-list"]) if ($(id)) $(id).replaceChildren();
    if ($("variants")) $("variants").hidden = true;
    if ($("top-links")) $("top-links").tBodies[0].replaceChildren();
  }

  // dims fills the top-N lists of every dimension from base ("/api/v1/stats"
  // or "/api/v1/stats/links/CODE") with query q; total is the range's
  // clicks of the traffic shown (0: unknown), which the countries' shares
  // are of.
  async function dims(base, q, total) {
    const grid = $("dims");
    grid.replaceChildren();
    await Promise.all(DIMENSIONS.map(async ([dim, title, unknown]) => {
      const card = el("section", { class: "card", id: "dim-" + dim });
      card.appendChild(el("h3", {}, title));
      grid.appendChild(card);
      try {
        const limit = dim === "country" ? COUNTRIES : 8;
        const top = await api(base + "/top/" + dim + "?" + q + "&traffic=" + traffic() + "&limit=" + limit);
        if (top.items.length === 0) {
          card.appendChild(el("p", { class: "muted" }, "No clicks in this range."));
          return;
        }
        if (dim === "country") {
          card.appendChild(countryList(top.items, shownCount, total));
          return;
        }
        const ol = el("ol", { class: "top" });
        for (const it of top.items) {
          const li = el("li");
          li.append(el("span", { class: "value" }, it.value || unknown), el("span", { class: "count" }, fmt(shownCount(it))));
          ol.appendChild(li);
        }
        card.appendChild(ol);
      } catch (err) {
        card.appendChild(el("p", { class: "muted" }, explain(err)));
      }
    }));
  }

  async function overview() {
    const gen = ++generation;
    const r = picker.current();
    if (!r) return clearStats(); // refused: the picker says why, nothing is asked
    const q = r.query;
    let total = 0;
    try {
      const o = await api("/api/v1/stats/overview?" + q + "&traffic=" + traffic());
      if (gen !== generation) return;
      total = showSeries(o);
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
        tr.appendChild(el("td", { colspan: "4", class: "muted" }, "No clicks in this range."));
        body.appendChild(tr);
      }
      say("");
    } catch (err) {
      if (gen !== generation) return;
      if (picker.refused(err)) return clearStats();
      say(explain(err), true);
    }
    await dims("/api/v1/stats", q, total);
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
    const gen = ++generation;
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
    if (gen !== generation) return;
    const r = picker.current();
    if (!r) return clearStats(); // refused: the picker says why, nothing is asked
    const q = r.query + domainQuery() + (linkID ? "&link_id=" + encodeURIComponent(linkID) : "");
    const base = "/api/v1/stats/links/" + enc;
    let total = 0;
    try {
      const s = await api(base + "?" + q);
      if (gen !== generation) return;
      total = showSeries(s);
    } catch (err) {
      if (gen !== generation) return;
      if (picker.refused(err)) return clearStats();
      say(explain(err), true);
    }
    $("csv").onclick = (ev) => download(ev, base + "/series.csv?" + q, code + ".csv");
    await Promise.all([dims(base, q, total), variants(base, q, link)]);
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
    const load = page === "overview" ? busy(overview) : page === "link" ? busy(linkPage) : null;
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
      picker = range.picker(load);
      // The toggle is in the URL too, with the range.
      const t = new URLSearchParams(location.search).get("traffic");
      if (t === "human" || t === "bot") $("traffic").value = t;
      $("traffic").addEventListener("change", () => {
        const u = new URL(location.href);
        if (traffic() === "all") u.searchParams.delete("traffic");
        else u.searchParams.set("traffic", traffic());
        history.replaceState(history.state, "", u);
        load();
      });
      load();
    }
    // The chart is drawn at the box's width: redrawn when that changes.
    let resized = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(resized);
      resized = requestAnimationFrame(() => { if (lastSeries) chart($("chart"), lastSeries, traffic()); });
    });
    // The forms work from here on (tests wait for this).
    document.body.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", start);
})();
