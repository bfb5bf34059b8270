// seqattn web page: translate with the server's API and draw an interactive attention map.
// Plain JavaScript, no libraries; every string from the server goes in through textContent.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = { models: [], limits: { max_texts: 64, max_chars: 1000 } };
const BEAMS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16];
const HIGHLIGHT_MIN = 0.02; // weights below this are not highlighted

// The API key, when the server wants one (serve --api-key): typed once into the page, kept for
// this tab only (sessionStorage, never in a URL), sent as "Authorization: Bearer KEY" on /v1/.
const KEY_STORE = "seqattn-api-key";

function apiKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (err) { return ""; }
}

// fetch() for the server's own paths, with the key on /v1/ requests; a 401 asks for the key.
async function api(url, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = apiKey();
  if (key && url.startsWith("/v1/")) headers.set("Authorization", `Bearer ${key}`);
  const response = await fetch(url, { ...options, headers });
  if (response.status === 401 && url.startsWith("/v1/")) {
    askForKey(key ? "The server refused that key; type it again." : "This server wants an API key.");
  }
  return response;
}

function askForKey(message) {
  $("#key-message").textContent = message;
  $("#key-form").hidden = false;
  $("#api-key").focus();
}

function useKey(event) {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  if (!key) { $("#key-message").textContent = "Type the key first."; return; }
  try { sessionStorage.setItem(KEY_STORE, key); } catch (err) { /* storage off: ask again next time */ }
  $("#api-key").value = "";
  $("#key-form").hidden = true;
  showError("");
  loadModels();
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = String(value);
  o.textContent = text === undefined ? String(value) : text;
  return o;
}

function currentModel() {
  return state.models.find((m) => m.name === $("#model").value) || state.models[0];
}

function describeModel(m) {
  const a = m.architecture;
  const enc = `${a.encoder.bidirectional ? "bi-" : ""}${a.encoder.rnn.toUpperCase()} ${a.encoder.hidden_size}×${a.encoder.layers}`;
  const dec = `${a.decoder.rnn.toUpperCase()} ${a.decoder.hidden_size}×${a.decoder.layers}${a.decoder.input_feeding ? " + input feeding" : ""}`;
  const params = a.parameters >= 1e6 ? `${(a.parameters / 1e6).toFixed(1)}M` : `${Math.round(a.parameters / 1e3)}k`;
  return `${m.src_lang} → ${m.tgt_lang} · encoder ${enc} · decoder ${dec} · ${a.attention} attention · ` +
    `vocab ${m.src_vocab_size}/${m.tgt_vocab_size} · ${params} parameters · ${m.device}`;
}

function fillBeams(defaultBeam) {
  const beam = $("#beam");
  const values = BEAMS.includes(defaultBeam) ? BEAMS : [...BEAMS, defaultBeam].sort((x, y) => x - y);
  beam.replaceChildren(...values.map((b) => option(b, b === 1 ? "1 (greedy)" : String(b))));
  beam.value = String(defaultBeam);
  fillNbest();
}

function fillNbest() {
  const beam = Number($("#beam").value) || 1;
  const nbest = $("#nbest");
  const keep = Math.min(Number(nbest.value) || 1, beam);
  const values = [1, 2, 3, 4, 5].filter((n) => n <= beam);
  nbest.replaceChildren(...values.map((n) => option(n)));
  nbest.value = String(Math.min(keep, values[values.length - 1]));
}

function onModelChange() {
  const m = currentModel();
  if (!m) return;
  $("#model-info").textContent = describeModel(m);
  fillBeams(m.default_beam);
  fillExamples(m);
}

async function loadModels() {
  try {
    const [listed, health] = await Promise.all([api("/v1/models"), fetch("/healthz").then((r) => r.json())]);
    if (listed.status === 401) {
      $("#model-info").textContent = "Waiting for the API key.";
      return;
    }
    const models = await listed.json();
    state.models = models.models;
    if (health && health.limits) state.limits = health.limits;
    $("#model").replaceChildren(...state.models.map((m) => option(m.name, `${m.name} (${m.src_lang}→${m.tgt_lang})`)));
    $("#model").value = models.default;
    onModelChange();
    document.dispatchEvent(new CustomEvent("models-loaded"));
  } catch (err) {
    $("#model-info").textContent = "Could not load the model list.";
    showError(`Could not reach the server: ${err}`);
  }
}

function readTexts() {
  const lines = $("#input").value.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (lines.length === 0) return { error: "Type a sentence first (or click an example)." };
  if (lines.length > state.limits.max_texts) {
    return { error: `Too many lines: ${lines.length} (at most ${state.limits.max_texts} at once).` };
  }
  const long = lines.findIndex((s) => s.length > state.limits.max_chars);
  if (long >= 0) {
    return { error: `Line ${long + 1} has ${lines[long].length} characters (at most ${state.limits.max_chars}); split it.` };
  }
  return { texts: lines };
}

async function translate() {
  const { texts, error } = readTexts();
  if (error) { showError(error); return; }
  showError("");
  const button = $("#translate");
  button.disabled = true;
  button.textContent = "Translating…";
  document.body.classList.add("busy");
  try {
    const body = {
      texts, model: $("#model").value || null, beam: Number($("#beam").value) || null,
      n_best: Number($("#nbest").value) || 1, attention: true,
    };
    const response = await api("/v1/translate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      const detail = data.detail || `HTTP ${response.status}`;
      showError(response.status === 503 && retry ? `Server busy: ${detail}` : detail);
      return;
    }
    renderResults(data);
  } catch (err) {
    showError(`The request failed: ${err}`);
  } finally {
    button.disabled = false;
    button.textContent = "Translate";
    document.body.classList.remove("busy");
  }
}

function renderResults(data) {
  const out = $("#output");
  out.replaceChildren(...data.results.map((r) => renderResult(r, data)));
}

function fmt(score) {
  return score === null || score === undefined ? "n/a" : score.toFixed(3);
}

function renderResult(result, data) {
  const card = $("#result-template").content.firstElementChild.cloneNode(true);
  $(".source-text", card).textContent = result.source;
  $(".truncated-note", card).hidden = !result.truncated;
  const list = $(".nbest", card);
  result.hypotheses.forEach((h, k) => {
    const li = document.createElement("li");
    li.className = "hyp";
    li.dataset.k = String(k);
    li.tabIndex = 0;
    const text = document.createElement("span");
    text.className = "hyp-text";
    text.textContent = h.text || "(empty)";
    const score = document.createElement("span");
    score.className = "hyp-score";
    score.textContent = fmt(h.score);
    li.append(text, score);
    li.addEventListener("click", () => selectHypothesis(card, result, k));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") selectHypothesis(card, result, k); });
    list.append(li);
  });
  $(".nbest-count", card).textContent = `(${result.hypotheses.length})`;
  if (result.hypotheses.length > 1) $(".nbest-box", card).open = true;
  selectHypothesis(card, result, 0);
  if (typeof attachStudio === "function") attachStudio(card, result, data); // studio.js: step through, why not, beam tree
  return card;
}

function selectHypothesis(card, result, k) {
  const h = result.hypotheses[k];
  $(".translation", card).textContent = h.text || "(empty)";
  $(".score", card).textContent = `score ${fmt(h.score)}`;
  $$(".hyp", card).forEach((li) => li.classList.toggle("selected", Number(li.dataset.k) === k));
  card.redraw = () => drawAttention($(".attn", card), result.src_tokens, h.tgt_tokens, h.attention);
  card.redraw();
}

// ---- tokens: SentencePiece pieces shown as words (or pieces), never with a raw "▁" ----

const SP = "\u2581"; // SentencePiece's word-start marker
const isSpecial = (t) => /^<[^<>\s]+>$/.test(t);

// Units of a token sequence: whole words (pieces joined at SP) or single pieces.
// Each unit: { label, pieces: [indices], cont: piece continues a word }.
function units(tokens, words) {
  const marked = tokens.some((t) => t.startsWith(SP)); // char or symbol vocabularies have no SP
  const out = [];
  tokens.forEach((t, k) => {
    const prev = out[out.length - 1];
    const starts = !marked || isSpecial(t) || t.startsWith(SP) || !prev || isSpecial(tokens[k - 1]);
    const text = t.split(SP).join(" ").trim();
    if (words && !starts) {
      prev.pieces.push(k);
      prev.label += text;
      return;
    }
    out.push({ label: text, pieces: [k], cont: !starts });
  });
  out.forEach((u) => {
    if (!u.label) u.label = "␣"; // a lone word-start piece
    u.shown = !words && u.cont ? `·${u.label}` : u.label;
  });
  return out;
}

// The map for the chosen units: a word's column sums its pieces' weights, a word's row
// averages its pieces' rows, so every row still sums to 1.
function viewOf(src, tgt, matrix, words) {
  const s = units(src, words);
  const t = units(tgt, words);
  const m = matrix && t.map((row) => s.map((col) => {
    let total = 0;
    row.pieces.forEach((i) => col.pieces.forEach((j) => { total += matrix[i][j]; }));
    return total / row.pieces.length;
  }));
  return { src: s, tgt: t, matrix: m };
}

// ---- colour: a sequential ramp from near-white to deep blue; mid weights clearly tinted ----

const RAMP = [[0, [248, 250, 252]], [0.05, [224, 236, 244]], [0.15, [171, 217, 233]], [0.3, [116, 185, 219]],
  [0.45, [66, 146, 198]], [0.6, [33, 113, 181]], [0.8, [8, 81, 156]], [1, [8, 48, 107]]];

function rampColour(w) {
  const x = Math.min(1, Math.max(0, Number(w) || 0));
  for (let k = 1; k < RAMP.length; k += 1) {
    const [x1, c1] = RAMP[k];
    const [x0, c0] = RAMP[k - 1];
    if (x <= x1) {
      const f = (x - x0) / (x1 - x0);
      return c0.map((v, n) => Math.round(v + f * (c1[n] - v)));
    }
  }
  return RAMP[RAMP.length - 1][1];
}

function luminance(rgb) {
  const lin = rgb.map((v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

function paintCell(td, w) {
  const rgb = rampColour(w);
  td.style.backgroundColor = `rgb(${rgb.join(" ")})`;
  const l = luminance(rgb); // the text colour with the better contrast
  td.style.color = (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000" : "#fff";
}

function drawLegend(box) {
  const stops = RAMP.map(([x, c]) => `rgb(${c.join(" ")}) ${x * 100}%`).join(", ");
  $(".legend-bar", box).style.background = `linear-gradient(to right, ${stops})`;
}

// ---- the map ----

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

function cellName(view, i, j) {
  return `${view.tgt[i].label} → ${view.src[j].label}: ${view.matrix[i][j].toFixed(2)}`;
}

function drawAttention(box, srcTokens, tgtTokens, matrix) {
  const view = viewOf(srcTokens, tgtTokens, matrix, $("#opt-words").checked);
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
  drawLegend(box);
  table.classList.toggle("dense", src.length > 30 || tgt.length > 30);
  table.classList.toggle("values", showValues);
  const longest = Math.min(14, Math.max(...src.map((u) => [...u.shown].length)));
  table.style.setProperty("--label-len", String(longest));
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
  const rows = tgt.map((u, i) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.append(labelSpan("tgt-token row-label", u, i, "i"));
    tr.append(th);
    src.forEach((_, j) => {
      const w = view.matrix[i][j];
      const td = document.createElement("td");
      td.className = "attn-cell";
      td.dataset.i = String(i);
      td.dataset.j = String(j);
      td.tabIndex = i === 0 && j === 0 ? 0 : -1; // roving: Tab enters the map once
      td.style.setProperty("--w", String(w));
      paintCell(td, w);
      td.title = cellName(view, i, j);
      td.setAttribute("aria-label", cellName(view, i, j));
      if (showValues) td.textContent = w.toFixed(2);
      tr.append(td);
    });
    return tr;
  });
  $("thead", table).replaceChildren(head);
  $("tbody", table).replaceChildren(...rows);
  readout.textContent = "Hover or focus an output token to see the source tokens it attended to, or a source token for the reverse.";
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

function topList(pairs) {
  return pairs.filter(([, w]) => w >= HIGHLIGHT_MIN).sort((a, b) => b[1] - a[1]).slice(0, 4)
    .map(([t, w]) => `${t} ${w.toFixed(2)}`).join(" · ");
}

function focusRow(box, view, i) {
  clearHighlight(box);
  $$(`.tgt-token[data-i="${i}"]`, box).forEach((el) => el.classList.add("active"));
  $$(`.attn-cell[data-i="${i}"]`, box).forEach((el) => el.classList.add("in-focus"));
  view.src.forEach((_, j) => mark($$(`.src-token[data-j="${j}"]`, box), view.matrix[i][j]));
  const top = topList(view.src.map((u, j) => [u.label, view.matrix[i][j]]));
  $(".attn-readout", box).textContent = `“${view.tgt[i].label}” attended to: ${top || "—"}`;
}

function focusColumn(box, view, j) {
  clearHighlight(box);
  $$(`.src-token[data-j="${j}"]`, box).forEach((el) => el.classList.add("active"));
  $$(`.attn-cell[data-j="${j}"]`, box).forEach((el) => el.classList.add("in-focus"));
  view.tgt.forEach((_, i) => mark($$(`.tgt-token[data-i="${i}"]`, box), view.matrix[i][j]));
  const top = topList(view.tgt.map((u, i) => [u.label, view.matrix[i][j]]));
  $(".attn-readout", box).textContent = `Attending to “${view.src[j].label}”: ${top || "—"}`;
}

function focusCell(box, view, i, j) {
  focusRow(box, view, i);
  $$(`.src-token[data-j="${j}"]`, box).forEach((el) => el.classList.add("active"));
  $(".attn-readout", box).textContent = `“${view.tgt[i].label}” → “${view.src[j].label}”: ${view.matrix[i][j].toFixed(3)}`;
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
    let i = Number(el.dataset.i);
    let j = Number(el.dataset.j);
    const last = { i: view.tgt.length - 1, j: view.src.length - 1 };
    if (key === "ArrowRight") j = Math.min(last.j, j + 1);
    else if (key === "ArrowLeft") j = Math.max(0, j - 1);
    else if (key === "ArrowDown") i = Math.min(last.i, i + 1);
    else if (key === "ArrowUp") i = Math.max(0, i - 1);
    else if (key === "Home") j = 0;
    else if (key === "End") j = last.j;
    else return false;
    target = $(`.attn-cell[data-i="${i}"][data-j="${j}"]`, box);
  } else if (el.parentElement.classList.contains("token-strip")) {
    const all = $$("button", el.parentElement);
    const k = all.indexOf(el);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[key];
    if (step === undefined && key !== "Home" && key !== "End") return false;
    const next = key === "Home" ? 0 : key === "End" ? all.length - 1 : Math.min(all.length - 1, Math.max(0, k + step));
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

function fillExamples(model) {
  const examples = (model && model.examples) || [];
  $("#example-buttons").replaceChildren(...examples.map((text) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "example";
    b.dataset.text = text;
    b.textContent = text.length > 40 ? `${text.slice(0, 38)}…` : text;
    if (text.length > 40) b.title = text;
    b.addEventListener("click", () => { $("#input").value = text; translate(); });
    return b;
  }));
  $("#examples").hidden = examples.length === 0;
  $("#input").placeholder = examples.length ? `Type or paste a sentence, e.g. ${examples[0]}` : "Type or paste a sentence";
}

function redrawAll() {
  $$("#output .result").forEach((card) => { if (card.redraw) card.redraw(); });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#translate").addEventListener("click", translate);
  $("#model").addEventListener("change", onModelChange);
  $("#beam").addEventListener("change", fillNbest);
  $("#input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); translate(); }
  });
  $("#opt-words").addEventListener("change", redrawAll);
  $("#opt-values").addEventListener("change", redrawAll);
  $("#key-form").addEventListener("submit", useKey);
  loadModels();
});
