// Shortify dashboard: the statistics' date range. A preset (the last 24
// hours, 7, 30 or 90 days, this month) or two dates of the viewer's
// calendar (custom), kept in the page's URL query (range, from, to) so
// that a reload or a shared URL shows the same range, and turned into the
// stats API's from, to and granularity: by hour for two days or less, by
// day otherwise.
//
// The API's day buckets are UTC days (its hour buckets are hours, the
// same everywhere), so a range by hour covers the viewer's local days
// exactly, and a range by day covers the UTC days of those dates.
import { $ } from "./dom.js";

const DAY = 24 * 60 * 60 * 1000;

// DEFAULT is the range of a page opened without one: the API's own
// default, the last 30 days by day.
const DEFAULT = "30d";

// PRESETS are the ranges that follow the clock, with their labels.
const PRESETS = {
  "24h": "last 24 hours",
  "7d": "last 7 days",
  "30d": "last 30 days",
  "90d": "last 90 days",
  month: "this month",
};

// HOURLY_DAYS is the longest range, in days, shown by hour.
const HOURLY_DAYS = 2;

const pad = (n) => String(n).padStart(2, "0");

// localDate is d's date on the viewer's calendar, as YYYY-MM-DD.
function localDate(d) {
  return String(d.getFullYear()).padStart(4, "0") + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
}

// utcDate is d's UTC date, as YYYY-MM-DD.
function utcDate(d) {
  return d.toISOString().slice(0, 10);
}

// parseDate reads a YYYY-MM-DD date as local midnight of that day, or
// null when it is no date (2026-02-30 included).
function parseDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
  if (!m) return null;
  const d = new Date(2000, 0, 1);
  d.setFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3])); // setFullYear keeps years below 100
  return localDate(d) === s ? d : null;
}

// clip shortens what a URL brought for a message (it shows as text).
function clip(s) {
  return s.length > 40 ? s.slice(0, 40) + "\u2026" : s;
}

// addDays is local midnight n days after the local day d.
function addDays(d, n) {
  const out = new Date(d.getTime());
  out.setDate(out.getDate() + n);
  return out;
}

// BadRange is a range the page refuses before asking the API: field is
// the input it names ("from" or "to").
class BadRange extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

// read is the range in a URL query: {preset, from, to}, from and to only
// for a custom range (as given, checked by plan).
export function read(search) {
  const p = new URLSearchParams(search);
  const r = p.get("range") || DEFAULT;
  if (r === "custom") return { preset: "custom", from: p.get("from") || "", to: p.get("to") || "" };
  return { preset: Object.hasOwn(PRESETS, r) ? r : DEFAULT, from: "", to: "" };
}

// write puts the range into the page's URL, keeping its other parameters
// (a link page's domain), without a new history entry or a reload.
function write(r) {
  const u = new URL(location.href);
  u.searchParams.set("range", r.preset);
  for (const k of ["from", "to"]) {
    if (r.preset === "custom") u.searchParams.set(k, r[k]);
    else u.searchParams.delete(k);
  }
  history.replaceState(history.state, "", u);
}

// today is the latest date that has begun: the viewer's, or the UTC
// date where UTC is already a day ahead (the API's day buckets are UTC
// days).
function today(now) {
  const l = localDate(now), u = utcDate(now);
  return u > l ? u : l;
}

// plan turns a range into the API's query at time now: {query, label,
// note, granularity}, or throws a BadRange naming the input at fault.
export function plan(r, now) {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  switch (r.preset) {
    case "24h":
      // The API's default by hour: the last 24 hours up to the current one.
      return hourly("granularity=hour", PRESETS["24h"]);
    case "7d":
    case "30d":
    case "90d": {
      // N UTC days up to today's, as the API's own default for 30.
      const from = utcDate(new Date(now.getTime() - (parseInt(r.preset, 10) - 1) * DAY));
      return daily("granularity=day&from=" + from, PRESETS[r.preset]);
    }
    case "month":
      return span(new Date(now.getFullYear(), now.getMonth(), 1), midnight, PRESETS.month, true);
    case "custom": {
      const from = parseDate(r.from), to = parseDate(r.to);
      if (!from) throw new BadRange("from", r.from ? "From \u201c" + clip(r.from) + "\u201d is not a date: pick one." : "Pick the first day of the range (From).");
      if (!to) throw new BadRange("to", r.to ? "To \u201c" + clip(r.to) + "\u201d is not a date: pick one." : "Pick the last day of the range (To).");
      const last = today(now);
      if (r.to > last) throw new BadRange("to", "To (" + r.to + ") is in the future: the statistics end today, " + last + ".");
      if (r.from > r.to) throw new BadRange("from", "From (" + r.from + ") is after To (" + r.to + "): pick a From on or before the To.");
      return span(from, to, shownDay(from) + (r.from === r.to ? "" : " \u2013 " + shownDay(to)), false);
    }
  }
  return plan({ preset: DEFAULT }, now);
}

// span is the query of the local days from to to (local midnights, both
// included; to may be today, open: up to now): by hour for up to
// HOURLY_DAYS days, else by day.
function span(from, to, label, open) {
  const days = Math.round((to - from) / DAY) + 1; // rounded: a day with a clock change is 23 or 25 hours
  if (days <= HOURLY_DAYS) {
    return hourly("granularity=hour&from=" + encodeURIComponent(from.toISOString()) +
      (open ? "" : "&to=" + encodeURIComponent(addDays(to, 1).toISOString())), label);
  }
  return daily("granularity=day&from=" + localDate(from) + (open ? "" : "&to=" + localDate(to)), label);
}

// hourly is a plan by hour; its note names the viewer's time zone.
function hourly(query, label) {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (_) { /* no Intl: no zone's name */ }
  return { query, label, granularity: "hour", note: "By hour, in your time zone" + (zone ? " (" + zone + ")" : "") + "." };
}

// daily is a plan by day; its note says the days are UTC days.
function daily(query, label) {
  return { query, label, granularity: "day", note: "By day; days are UTC days." };
}

// shownDay writes a local date for the range's label.
function shownDay(d) {
  return d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

// picker wires the range controls of a statistics page (#range, the
// custom form #range-custom with #range-from and #range-to, #range-error,
// #range-label, #range-note) to the URL, calling load when the range
// changes. It returns the page's side: current() is the plan of the
// range in force, or null when it is refused (the message shown, so that
// nothing is asked of the API); refused(err) shows the API's refusal of
// the range (a problem naming from, to or granularity) and says whether
// err was one.
export function picker(load) {
  const sel = $("range"), form = $("range-custom"), from = $("range-from"), to = $("range-to");
  let r = read(location.search);

  const showError = (field, text) => {
    $("range-error").textContent = text;
    $("range-error").hidden = !text;
    for (const [input, name] of [[from, "from"], [to, "to"]]) {
      if (field === name) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  };
  const sync = () => {
    sel.value = r.preset;
    form.hidden = r.preset !== "custom";
    if (r.preset === "custom") {
      from.value = parseDate(r.from) ? r.from : "";
      to.value = parseDate(r.to) ? r.to : "";
    }
    const max = today(new Date());
    from.max = to.max = max;
  };
  // prefill starts a custom range at the dates of the range in force.
  const prefill = () => {
    const now = new Date(), end = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const days = { "24h": 2, "7d": 7, "30d": 30, "90d": 90 }[r.preset];
    from.value = localDate(days ? addDays(end, 1 - days) : new Date(now.getFullYear(), now.getMonth(), 1));
    to.value = localDate(end);
  };

  sel.addEventListener("change", () => {
    if (sel.value === "custom") {
      // Nothing changes until the dates are given (the form's Show).
      if (r.preset !== "custom") prefill();
      form.hidden = false;
      from.focus();
      return;
    }
    r = { preset: Object.hasOwn(PRESETS, sel.value) ? sel.value : DEFAULT, from: "", to: "" };
    write(r);
    load();
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = { preset: "custom", from: from.value, to: to.value };
    try {
      plan(next, new Date());
    } catch (err) {
      // Refused here: no request, and the page keeps showing the range
      // in force (its URL too).
      showError(err.field, err.message);
      return;
    }
    r = next;
    write(r);
    load();
  });
  sync();

  return {
    current() {
      sync();
      let p;
      try {
        p = plan(r, new Date());
      } catch (err) {
        showError(err.field, err.message);
        $("range-label").textContent = "no range";
        $("range-note").textContent = "";
        return null;
      }
      showError("", "");
      $("range-label").textContent = p.label;
      $("range-note").textContent = p.note;
      return p;
    },
    refused(err) {
      if (err.status !== 400 || !["from", "to", "granularity"].includes(err.field)) return false;
      showError(err.field === "granularity" ? "" : err.field, "The statistics API refused the range: " + err.message);
      return true;
    },
  };
}
