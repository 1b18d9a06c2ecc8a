// Shortify dashboard: the countries card, a ranked list of the countries
// clicks came from, each with its flag, its name in the viewer's language
// and its share of the clicks as a bar.
import { el } from "./dom.js";
import { fmt } from "./format.js";

// flag is the emoji flag of an ISO 3166-1 alpha-2 code: its two letters
// as regional indicator symbols (U+1F1E6 is A), which most systems draw
// as the flag and the rest as the two letters; "" for anything else.
export function flag(code) {
  if (!/^[A-Z]{2}$/.test(code || "")) return "";
  return String.fromCodePoint(...[...code].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

// names turns codes into country names in the browser's language.
let names = null;

// countryName is the name of the country with the code, the code itself
// where the browser knows no name (or no Intl.DisplayNames), and
// "unknown" for "" (clicks whose country nobody could tell).
export function countryName(code) {
  if (!code) return "unknown";
  try {
    names = names || new Intl.DisplayNames(undefined, { type: "region", fallback: "code" });
    return names.of(code) || code;
  } catch (_) {
    return code; // no Intl.DisplayNames, or a code it does not take
  }
}

// percent writes a share (0 to 1) for people: "42%", "3.5%", "<0.1%".
function percent(share) {
  if (share <= 0) return "0%";
  if (share < 0.001) return "<0.1%";
  return (share < 0.1 ? (share * 100).toFixed(1) : Math.round(share * 100)) + "%";
}

// countryList is the ranked list of a top answer's items (in the API's
// order): count(item) is the item's clicks of the traffic shown, total
// the clicks the shares are of (the range's total of that traffic; the
// items' sum when unknown).
export function countryList(items, count, total) {
  const sum = items.reduce((s, it) => s + count(it), 0);
  const of = total > 0 ? Math.max(total, sum) : sum;
  const ol = el("ol", { class: "top countries" });
  for (const it of items) {
    const n = count(it), share = of > 0 ? n / of : 0;
    const li = el("li", { "data-code": it.value });
    const name = el("span", { class: "value country" });
    name.append(el("span", { class: "flag", "aria-hidden": "true" }, flag(it.value)), el("span", { class: "name" }, countryName(it.value)));
    if (it.value) name.setAttribute("title", it.value);
    const bar = el("span", { class: "bar", role: "presentation" });
    // The width through the CSS object model: the policy forbids style
    // attributes, not this.
    bar.appendChild(el("span", { class: "fill" })).style.width = (share * 100).toFixed(2) + "%";
    li.append(name, el("span", { class: "count" }, fmt(n)), el("span", { class: "share" }, percent(share)), bar);
    ol.appendChild(li);
  }
  return ol;
}
