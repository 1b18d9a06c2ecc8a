// Shortify dashboard: the clicks chart, stacked bars per hour or day
// drawn as SVG at the box's width, with round y ticks, a title per bucket
// and a table of the same numbers.
import { el, svg } from "./dom.js";
import { fmt } from "./format.js";

// bucketLabel names a bucket: a day bucket is a UTC day, shown as that
// date (converting it to local time could move it a day); an hour
// bucket shows as the local hour it began.
function bucketLabel(bucket, granularity, long) {
  const d = new Date(bucket);
  if (isNaN(d)) return bucket;
  if (granularity === "hour") {
    if (long) return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    // Midnight names its day, so that an axis of two days tells them apart.
    if (d.getHours() === 0) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
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

// chart draws the series as stacked bars (humans below, bots above, or
// only the class the toggle picks) at the box's real width, so that its
// labels keep their size on a phone; each bucket tells its values on
// hover (a title over the whole column), and a table below holds the
// same numbers for screen readers and for copying.
export function chart(box, s, t) {
  const open = !!box.querySelector("details[open]");
  box.replaceChildren();
  if (!s) return;
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
