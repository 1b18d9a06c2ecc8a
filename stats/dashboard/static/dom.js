// Shortify dashboard: the DOM helpers every module of the pages shares.
// They build elements from text and attributes only, never from markup,
// so that nothing users wrote becomes HTML.

const SVG = "http://www.w3.org/2000/svg";

// $ is the element with the ID.
export const $ = (id) => document.getElementById(id);

// el makes an HTML element with attributes and text.
export function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

// svg makes an SVG element with attributes and text.
export function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

// say shows text in the page's message line (#message), as an error when
// isError; "" hides it.
export function say(text, isError) {
  const m = $("message");
  m.textContent = text;
  m.hidden = !text;
  m.classList.toggle("error", !!isError);
}
