// The studio: tools that look closer at one translation (step through, why not this?, the beam
// tree), side by side models and training in pictures. Shared helpers live here; each tool is
// its own file (stepper.js, whynot.js, beamtree.js, compare.js). Uses app.js's globals ($, $$,
// units, drawAttention, paintCell, fmt). Every string from the server goes in via textContent.
"use strict";

let studioIds = 0;
const uid = (prefix) => `${prefix}-${(studioIds += 1)}`;

function el(tag, attrs = {}, ...children) {
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

async function postJSON(url, body) {
  const response = await api(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `HTTP ${response.status}`);
  return data;
}

// Subword pieces shown without the raw "▁": a piece that continues a word gets a leading "·".
function pieceLabels(tokens) {
  return units(tokens, false).map((u) => u.shown);
}

const num = (x, digits = 3) => (x === null || x === undefined ? "n/a" : (x < 0 ? "−" : "+") + Math.abs(x).toFixed(digits));

// A vector shortened to its first few values, with a disclosure to see it whole.
function vectorView(values, label, n = 6) {
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
function barTable(caption, rows, { signed = false, digits = 3, cls = "" } = {}) {
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

// An attention map like the page's main one (same drawing code), for the studio's panels.
const studioMaps = new Set();
function newMapBox() {
  const box = $("#result-template").content.querySelector(".attn").cloneNode(true);
  box.classList.add("studio-map");
  studioMaps.add(box);
  return box;
}
function drawStudioMap(box, srcTokens, tgtTokens, matrix) {
  box.redraw = () => drawAttention(box, srcTokens, tgtTokens, matrix);
  box.redraw();
}

// A tool's toggle button and its panel (built the first time it opens).
function toolButton(card, toolbar, name, build) {
  const panel = el("section", { class: "studio-panel", hidden: true, "aria-label": name });
  const button = el("button", { type: "button", class: "tool", "aria-expanded": "false", text: name });
  button.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open && !panel.built) { panel.built = true; build(panel); }
  });
  toolbar.append(button);
  card.append(panel);
  return { button, panel };
}

function panelError(panel, err) {
  let box = $(".studio-error", panel);
  if (!box) { box = el("p", { class: "studio-error", role: "alert" }); panel.append(box); }
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}

// Called by app.js for every result card: the toolbar of tools for that sentence.
function attachStudio(card, result, data) {
  const toolbar = el("div", { class: "studio-tools", role: "group", "aria-label": "Look closer at this sentence" });
  $(".best", card).after(toolbar);
  const ctx = { card, result, model: data.model, beam: data.beam };
  toolButton(card, toolbar, "Step through", (panel) => buildStepper(panel, ctx));
  toolButton(card, toolbar, "Why not…?", (panel) => buildWhyNot(panel, ctx));
  toolButton(card, toolbar, "Beam tree", (panel) => buildBeamTree(panel, ctx));
}

document.addEventListener("DOMContentLoaded", () => {
  const redraw = () => studioMaps.forEach((box) => {
    if (!box.isConnected) studioMaps.delete(box);
    else if (box.redraw) box.redraw();
  });
  $("#opt-words").addEventListener("change", redraw);
  $("#opt-values").addEventListener("change", redraw);
});
