// Small DOM helpers shared by the page's modules. Every string from the server goes in
// through textContent (or setAttribute), never as HTML.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

let ids = 0;
export const uid = (prefix) => `${prefix}-${(ids += 1)}`;

// An element: attrs "class", "text" (its textContent), "onX" (a listener for X) or an
// attribute (true: present and empty; false, null, undefined: absent), then its children.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => {
    if (v === undefined || v === null || v === false) return;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  });
  children.flat().forEach((c) => { if (c !== null && c !== undefined) node.append(c); });
  return node;
}

export function option(value, text) {
  const o = document.createElement("option");
  o.value = String(value);
  o.textContent = text === undefined ? String(value) : text;
  return o;
}

const SVGNS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
  if (text !== undefined) node.textContent = text;
  return node;
}
