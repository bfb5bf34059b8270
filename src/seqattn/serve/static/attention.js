// The interactive attention map: token strips above a table of weights, both hoverable,
// focusable and walked with the arrow keys. Used for every result card and the studio's panels;
// with `signed` options it draws an attribution's scores on the diverging scale instead, each
// row scaled to its largest |score|.

import { cssRgb, divergingColour, divergingGradient, rampColour, rampGradient, textColourOn } from "./colour.js";
import { $, $$ } from "./dom.js";
import { HIGHLIGHT_MIN, cellName, topList } from "./format.js";
import { cellText, rowScales, signed, signedTop } from "./importance.js";
import { nextCell, nextInStrip } from "./keys.js";
import { viewOf } from "./tokens.js";

export function paintCell(td, w) {
  paintRgb(td, rampColour(w));
}

function paintRgb(td, rgb) {
  td.style.backgroundColor = cssRgb(rgb);
  td.style.color = textColourOn(rgb);
}

const LEGEND = "0 → 1 attention weight (rows: output tokens, columns: source tokens)";

function drawLegend(box, view, legend) {
  $(".legend-bar", box).style.background = view.scales ? divergingGradient() : rampGradient();
  const text = $(".legend-text", box);
  if (text) text.textContent = legend || LEGEND;
}

// How strongly cell (i, j) is highlighted (0..1), its value in words, and a cell's name.
const strength = (view, i, j) => (view.scales ? Math.abs(view.matrix[i][j]) / view.scales[i] : view.matrix[i][j]);
const valueText = (view, x) => (view.scales ? signed(x) : x.toFixed(3));
const nameOf = (view, i, j) => (view.scales
  ? `${view.tgt[i].label} → ${view.src[j].label}: ${signed(view.matrix[i][j])}` : cellName(view, i, j));

function tokenButton(cls, unit, index, axis, side) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.dataset[axis] = String(index);
  b.tabIndex = index === 0 ? 0 : -1; // one stop per strip; arrow keys move inside it
  b.textContent = unit.shown;
  b.setAttribute("aria-label", `${side} ${index + 1}: ${unit.label}${unit.cont ? " (continues the word)" : ""}`);
  return b;
}

function labelSpan(cls, unit, index, axis) {
  const span = document.createElement("span");
  span.className = cls;
  span.dataset[axis] = String(index);
  span.textContent = unit.shown;
  span.title = unit.label;
  return span;
}

function headRow(src) {
  const head = document.createElement("tr");
  const corner = document.createElement("th");
  corner.className = "corner";
  corner.scope = "col";
  corner.textContent = "output ↓ source →";
  head.append(corner);
  src.forEach((u, j) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.className = "col-head";
    th.append(labelSpan("src-token col-label", u, j, "j"));
    head.append(th);
  });
  return head;
}

function bodyRow(view, u, i, showValues) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.scope = "row";
  th.append(labelSpan("tgt-token row-label", u, i, "i"));
  tr.append(th);
  view.src.forEach((_, j) => {
    const w = view.matrix[i][j];
    const td = document.createElement("td");
    td.className = "attn-cell";
    td.dataset.i = String(i);
    td.dataset.j = String(j);
    td.tabIndex = i === 0 && j === 0 ? 0 : -1; // roving: Tab enters the map once
    td.style.setProperty("--w", String(w));
    if (view.scales) paintRgb(td, divergingColour(w / view.scales[i]));
    else paintCell(td, w);
    td.title = nameOf(view, i, j);
    td.setAttribute("aria-label", nameOf(view, i, j));
    if (showValues) td.textContent = view.scales ? cellText(w) : w.toFixed(2);
    tr.append(td);
  });
  return tr;
}

// Draw the map into `box` (a clone of the template's .attn) for the page's current options
// (whole words or pieces, numbers or not); `matrix` null: a model without attention. Options:
// `signed` (an attribution: diverging colours, a word's row sums its pieces'), `legend` (its text).
export function drawAttention(box, srcTokens, tgtTokens, matrix, { signed: isSigned = false, legend = "" } = {}) {
  const view = viewOf(srcTokens, tgtTokens, matrix, $("#opt-words").checked, isSigned ? "sum" : "mean");
  if (isSigned && view.matrix) view.scales = rowScales(view.matrix);
  const showValues = $("#opt-values").checked;
  const { src, tgt } = view;
  const table = $(".attn-table", box);
  $(".src-strip", box).replaceChildren(...src.map((u, j) => tokenButton("src-token", u, j, "j", "source")));
  $(".tgt-strip", box).replaceChildren(...tgt.map((u, i) => tokenButton("tgt-token", u, i, "i", "output")));
  box.classList.toggle("pieces", !$("#opt-words").checked);
  const readout = $(".attn-readout", box);
  if (!matrix) {
    $("thead", table).replaceChildren();
    $("tbody", table).replaceChildren();
    box.classList.add("no-attention");
    readout.textContent = "This model has no attention (attention type: none).";
    wireMap(box, view);
    return;
  }
  box.classList.remove("no-attention");
  drawLegend(box, view, legend);
  table.classList.toggle("dense", src.length > 30 || tgt.length > 30);
  table.classList.toggle("values", showValues);
  const longest = Math.min(14, Math.max(...src.map((u) => [...u.shown].length)));
  table.style.setProperty("--label-len", String(longest));
  $("thead", table).replaceChildren(headRow(src));
  $("tbody", table).replaceChildren(...tgt.map((u, i) => bodyRow(view, u, i, showValues)));
  readout.textContent = view.scales
    ? "Hover or focus an output token to see the source tokens that mattered most to it, or a source token for the reverse."
    : "Hover or focus an output token to see the source tokens it attended to, or a source token for the reverse.";
  wireMap(box, view);
}

function clearHighlight(box) {
  $$(".highlight, .active, .in-focus", box).forEach((el) => {
    el.classList.remove("highlight", "active", "in-focus");
    el.style.removeProperty("--hw");
  });
}

function mark(elements, weight) {
  elements.forEach((el) => {
    el.style.setProperty("--hw", String(weight));
    if (weight >= HIGHLIGHT_MIN) el.classList.add("highlight");
  });
}

function focusRow(box, view, i) {
  clearHighlight(box);
  $$(`.tgt-token[data-i="${i}"]`, box).forEach((el) => el.classList.add("active"));
  $$(`.attn-cell[data-i="${i}"]`, box).forEach((el) => el.classList.add("in-focus"));
  view.src.forEach((_, j) => mark($$(`.src-token[data-j="${j}"]`, box), strength(view, i, j)));
  const pairs = view.src.map((u, j) => [u.label, view.matrix[i][j]]);
  $(".attn-readout", box).textContent = view.scales ? `“${view.tgt[i].label}”: most important ${signedTop(pairs) || "—"}`
    : `“${view.tgt[i].label}” attended to: ${topList(pairs) || "—"}`;
}

function focusColumn(box, view, j) {
  clearHighlight(box);
  $$(`.src-token[data-j="${j}"]`, box).forEach((el) => el.classList.add("active"));
  $$(`.attn-cell[data-j="${j}"]`, box).forEach((el) => el.classList.add("in-focus"));
  view.tgt.forEach((_, i) => mark($$(`.tgt-token[data-i="${i}"]`, box), strength(view, i, j)));
  const pairs = view.tgt.map((u, i) => [u.label, view.matrix[i][j]]);
  $(".attn-readout", box).textContent = view.scales ? `“${view.src[j].label}” matters most to: ${signedTop(pairs) || "—"}`
    : `Attending to “${view.src[j].label}”: ${topList(pairs) || "—"}`;
}

function focusCell(box, view, i, j) {
  focusRow(box, view, i);
  $$(`.src-token[data-j="${j}"]`, box).forEach((el) => el.classList.add("active"));
  $(".attn-readout", box).textContent = `“${view.tgt[i].label}” → “${view.src[j].label}”: ${valueText(view, view.matrix[i][j])}`;
}

function show(box, view, el) {
  if (!view.matrix) return;
  if (el.classList.contains("attn-cell")) focusCell(box, view, Number(el.dataset.i), Number(el.dataset.j));
  else if (el.classList.contains("tgt-token")) focusRow(box, view, Number(el.dataset.i));
  else focusColumn(box, view, Number(el.dataset.j));
}

// Arrow keys: from cell to cell in the map (Home/End: row ends), from token to token in a strip.
function moveFocus(box, view, el, key) {
  let target = null;
  if (el.classList.contains("attn-cell")) {
    const last = { i: view.tgt.length - 1, j: view.src.length - 1 };
    const to = nextCell(Number(el.dataset.i), Number(el.dataset.j), last, key);
    if (!to) return false;
    target = $(`.attn-cell[data-i="${to.i}"][data-j="${to.j}"]`, box);
  } else if (el.parentElement.classList.contains("token-strip")) {
    const all = $$("button", el.parentElement);
    const next = nextInStrip(all.indexOf(el), all.length, key);
    if (next === null) return false;
    target = all[next];
  } else {
    return false;
  }
  if (target && target !== el) {
    el.tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  }
  return true;
}

function wireMap(box, view) {
  box.view = view; // the listeners below read the current view; they are added once per map
  if (box.wired) return;
  box.wired = true;
  const find = (e) => {
    const el = e.target.closest(".attn-cell, .src-token, .tgt-token");
    return el && box.contains(el) ? el : null;
  };
  const onPoint = (e) => { const el = find(e); if (el) show(box, box.view, el); };
  box.addEventListener("mouseover", onPoint);
  box.addEventListener("click", onPoint); // taps on phones
  box.addEventListener("focusin", onPoint);
  box.addEventListener("mouseleave", () => clearHighlight(box));
  box.addEventListener("keydown", (e) => {
    const el = find(e);
    if (el && !e.altKey && !e.ctrlKey && !e.metaKey && moveFocus(box, box.view, el, e.key)) e.preventDefault();
  });
}
