// seqattn web page: translate with the server's API and draw an interactive attention map.
// Plain JavaScript, no libraries; every string from the server goes in through textContent.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = { models: [], limits: { max_texts: 64, max_chars: 1000 } };
const BEAMS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16];
const HIGHLIGHT_MIN = 0.02; // weights below this are not highlighted

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
}

async function loadModels() {
  try {
    const [models, health] = await Promise.all([
      fetch("/v1/models").then((r) => r.json()),
      fetch("/healthz").then((r) => r.json()),
    ]);
    state.models = models.models;
    if (health && health.limits) state.limits = health.limits;
    $("#model").replaceChildren(...state.models.map((m) => option(m.name, `${m.name} (${m.src_lang}→${m.tgt_lang})`)));
    $("#model").value = models.default;
    onModelChange();
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
    const response = await fetch("/v1/translate", {
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
  out.replaceChildren(...data.results.map((r) => renderResult(r)));
}

function fmt(score) {
  return score === null || score === undefined ? "n/a" : score.toFixed(3);
}

function renderResult(result) {
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
  return card;
}

function selectHypothesis(card, result, k) {
  const h = result.hypotheses[k];
  $(".translation", card).textContent = h.text || "(empty)";
  $(".score", card).textContent = `score ${fmt(h.score)}`;
  $$(".hyp", card).forEach((li) => li.classList.toggle("selected", Number(li.dataset.k) === k));
  drawAttention($(".attn", card), result.src_tokens, h.tgt_tokens, h.attention);
}

function tokenSpan(cls, text, index, axis) {
  const span = document.createElement("span");
  span.className = cls;
  span.dataset[axis] = String(index);
  span.textContent = text;
  return span;
}

function drawAttention(box, src, tgt, matrix) {
  const table = $(".attn-table", box);
  const srcStrip = $(".src-strip", box);
  const tgtStrip = $(".tgt-strip", box);
  srcStrip.replaceChildren(...src.map((t, j) => tokenSpan("src-token", t, j, "j")));
  tgtStrip.replaceChildren(...tgt.map((t, i) => tokenSpan("tgt-token", t, i, "i")));
  const readout = $(".attn-readout", box);
  if (!matrix) {
    $("thead", table).replaceChildren();
    $("tbody", table).replaceChildren();
    box.classList.add("no-attention");
    readout.textContent = "This model has no attention (attention type: none).";
    return;
  }
  box.classList.remove("no-attention");
  table.classList.toggle("dense", src.length > 30 || tgt.length > 30);
  const head = document.createElement("tr");
  const corner = document.createElement("th");
  corner.className = "corner";
  corner.textContent = "out \\ src";
  head.append(corner);
  src.forEach((t, j) => {
    const th = tokenSpan("src-token col-label", t, j, "j");
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.append(th);
    head.append(cell);
  });
  const rows = tgt.map((t, i) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.append(tokenSpan("tgt-token row-label", t, i, "i"));
    tr.append(th);
    src.forEach((s, j) => {
      const w = matrix[i][j];
      const td = document.createElement("td");
      td.className = "attn-cell";
      td.dataset.i = String(i);
      td.dataset.j = String(j);
      td.style.setProperty("--w", String(w));
      td.title = `${t} ← ${s}: ${w.toFixed(3)}`;
      tr.append(td);
    });
    return tr;
  });
  $("thead", table).replaceChildren(head);
  $("tbody", table).replaceChildren(...rows);
  readout.textContent = "Hover an output token to see the source tokens it attended to, or a source token for the reverse.";
  wireHover(box, src, tgt, matrix);
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

function focusRow(box, src, tgt, matrix, i) {
  clearHighlight(box);
  $$(`.tgt-token[data-i="${i}"]`, box).forEach((el) => el.classList.add("active"));
  $$(`.attn-cell[data-i="${i}"]`, box).forEach((el) => el.classList.add("in-focus"));
  src.forEach((_, j) => mark($$(`.src-token[data-j="${j}"]`, box), matrix[i][j]));
  $(".attn-readout", box).textContent = `“${tgt[i]}” attended to: ${topList(src.map((t, j) => [t, matrix[i][j]])) || "—"}`;
}

function focusColumn(box, src, tgt, matrix, j) {
  clearHighlight(box);
  $$(`.src-token[data-j="${j}"]`, box).forEach((el) => el.classList.add("active"));
  $$(`.attn-cell[data-j="${j}"]`, box).forEach((el) => el.classList.add("in-focus"));
  tgt.forEach((_, i) => mark($$(`.tgt-token[data-i="${i}"]`, box), matrix[i][j]));
  $(".attn-readout", box).textContent = `Attending to “${src[j]}”: ${topList(tgt.map((t, i) => [t, matrix[i][j]])) || "—"}`;
}

function focusCell(box, src, tgt, matrix, i, j) {
  focusRow(box, src, tgt, matrix, i);
  $$(`.src-token[data-j="${j}"]`, box).forEach((el) => el.classList.add("active"));
  $(".attn-readout", box).textContent = `“${tgt[i]}” ← “${src[j]}”: ${matrix[i][j].toFixed(3)}`;
}

function wireHover(box, src, tgt, matrix) {
  // One delegated listener per map; replaced on every redraw.
  box.onmouseover = (e) => {
    const el = e.target.closest(".attn-cell, .src-token, .tgt-token");
    if (!el || !box.contains(el)) return;
    if (el.classList.contains("attn-cell")) focusCell(box, src, tgt, matrix, Number(el.dataset.i), Number(el.dataset.j));
    else if (el.classList.contains("tgt-token")) focusRow(box, src, tgt, matrix, Number(el.dataset.i));
    else focusColumn(box, src, tgt, matrix, Number(el.dataset.j));
  };
  box.onmouseleave = () => clearHighlight(box);
  box.onclick = box.onmouseover; // taps on phones
}

document.addEventListener("DOMContentLoaded", () => {
  $("#translate").addEventListener("click", translate);
  $("#model").addEventListener("change", onModelChange);
  $("#beam").addEventListener("change", fillNbest);
  $("#input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); translate(); }
  });
  $$(".example").forEach((b) => b.addEventListener("click", () => {
    $("#input").value = b.dataset.text;
    translate();
  }));
  loadModels();
});
