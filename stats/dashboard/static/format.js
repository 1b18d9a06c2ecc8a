// Shortify dashboard: how the pages write numbers, times and URLs.

// fmt writes a count with thousands separators.
export function fmt(n) {
  return Number(n).toLocaleString("en");
}

// shownURL is u with its host in punycode, as the URL parser writes it,
// and the rest as stored: the API stores hosts so, but a row written
// before that (or behind the API's back) still shows a look-alike host
// for what it is.
export function shownURL(u) {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^\/?#]*)(.*)$/is.exec(u);
  if (!m || /^[\x20-\x7e]*$/.test(m[2])) return u;
  try {
    const at = m[2].lastIndexOf("@");
    return m[1] + (at >= 0 ? m[2].slice(0, at + 1) : "") + new URL(u).host + m[3];
  } catch (_) {
    return u;
  }
}

// safeHref is u for an http(s) URL, else "#": no javascript: link.
export function safeHref(u) {
  return /^https?:\/\//i.test(u) ? u : "#";
}

// shownTime is an API timestamp (RFC 3339, microseconds) as a local,
// readable time; the raw form stays in the element's title.
export function shownTime(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return iso || "";
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
