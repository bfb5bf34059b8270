// The studio's shared pieces: vectors shown short, bar charts as tables, attention maps like
// the page's main one, and a panel's error line. Every string goes in via textContent.

import { drawAttention } from "./attention.js";
import { $, el } from "./dom.js";
import { num } from "./format.js";

// A vector shortened to its first few values, with a disclosure to see it whole.
export function vectorView(values, label, n = 6) {
  if (!values) return el("span", { class: "muted", text: "—" });
  const flat = values.flat(Infinity);
  const head = flat.slice(0, n).map((v) => num(v)).join(", ");
  const short = el("code", { class: "vec-short", text: `[${head}${flat.length > n ? ", …" : ""}]` });
  const box = el("span", { class: "vec" }, short, el("span", { class: "vec-dim muted", text: ` ${flat.length} values` }));
  if (flat.length > n) {
    box.append(el("details", { class: "vec-details" },
      el("summary", { text: `see all of ${label}` }),
      el("code", { class: "vec-full", text: `[${flat.map((v) => num(v, 4)).join(", ")}]` })));
  }
  return box;
}

// A bar chart as a table: one row per item (label, bar, number). `signed` bars (raw scores) grow
// from the middle, scaled to the largest |score| (negative ones left, hatched); others (weights,
// probabilities) from the left on a 0..1 scale. Marks are shapes and text, never colour alone.
export function barTable(caption, rows, { signed = false, digits = 3, cls = "" } = {}) {
  const most = Math.max(1e-9, ...rows.map((r) => Math.abs(r.value)));
  const body = rows.map((r) => {
    const size = signed ? Math.abs(r.value) / most : Math.min(1, Math.max(0, r.value)); // weights, p: 0..1
    const bar = el("span", { class: `bar${r.value < 0 ? " neg" : ""}`, "aria-hidden": "true" });
    bar.style.setProperty("--size", String(signed ? size * 50 : size * 100));
    const track = el("span", { class: `track${signed ? " signed" : ""}` }, bar);
    return el("tr", { class: r.cls || "", "data-value": String(r.value) },
      el("th", { scope: "row", text: r.label }), el("td", { class: "bar-cell" }, track),
      el("td", { class: "num", text: r.text !== undefined ? r.text : num(r.value, digits) }),
      r.note !== undefined ? el("td", { class: "bar-note", text: r.note }) : null);
  });
  return el("table", { class: `bars ${cls}` }, el("caption", { text: caption }), el("tbody", {}, body));
}

// An attention map like the page's main one (same drawing code), for the studio's panels, or
// an attribution's map (`options` of drawAttention); redrawn with the others when the page's
// map options change.
const studioMaps = new Set();

export function newMapBox() {
  const box = $("#result-template").content.querySelector(".attn").cloneNode(true);
  box.classList.add("studio-map");
  studioMaps.add(box);
  return box;
}

export function drawStudioMap(box, srcTokens, tgtTokens, matrix, options = {}) {
  box.redraw = () => drawAttention(box, srcTokens, tgtTokens, matrix, options);
  box.redraw();
}

export function redrawStudioMaps() {
  studioMaps.forEach((box) => {
    if (!box.isConnected) studioMaps.delete(box);
    else if (box.redraw) box.redraw();
  });
}

// Show (or, with a falsy err, hide) a panel's error line.
export function panelError(panel, err) {
  let box = $(".studio-error", panel);
  if (!box) { box = el("p", { class: "studio-error", role: "alert" }); panel.append(box); }
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}
