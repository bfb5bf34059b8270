// The beam, not only its winners: POST /v1/translate with "tree": true, drawn as an SVG tree,
// one column per output position. Kept, finished and pruned candidates differ in outline
// (solid, double, dashed) and mark (none, ✔, ✕), not only in colour; the winner's path is
// starred. Click a node, or focus it and press Enter, to see the attention row it was
// chosen with; the arrow keys walk the tree (← parent, → best child, ↑ ↓ same column).
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const TREE = { col: 104, boxW: 88, boxH: 22, boxHPruned: 18, gap: 28, left: 50, top: 12 };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
  if (text !== undefined) node.textContent = text;
  return node;
}

function buildBeamTree(panel, ctx) {
  const beamId = uid("tree-beam");
  const choose = el("select", { id: beamId, class: "tree-beam" },
    [2, 3, 4, 5, 6, 8].map((b) => option(b)));
  choose.value = String(Math.max(2, Math.min(8, ctx.beam || 5)));
  if (!Array.from(choose.options).some((o) => o.value === choose.value)) choose.value = "5";
  const go = el("button", { type: "button", class: "tree-go", text: "Show the tree" });
  const pruned = el("input", { type: "checkbox", id: uid("tree-pruned"), checked: true });
  const out = el("div", { class: "tree-out" });
  panel.append(el("h3", { text: "The beam search tree" }),
    el("p", { class: "muted", text: "Every candidate beam search considered at each output position: the ones it " +
      "kept, those that finished (ended the sentence) and those it pruned." }),
    el("div", { class: "tree-controls" }, el("label", { for: beamId, text: "Beam " }), choose, go,
      el("label", {}, pruned, " show pruned candidates")),
    out);
  const run = async () => {
    go.disabled = true;
    panelError(panel, "");
    try {
      const data = await postJSON("/v1/translate", { texts: [ctx.result.source], model: ctx.model,
        beam: Number(choose.value), n_best: 1, attention: true, tree: true });
      out.tree = data.results[0];
      drawTree(out, out.tree, pruned.checked);
    } catch (err) {
      panelError(panel, err);
    } finally {
      go.disabled = false;
    }
  };
  go.addEventListener("click", run);
  pruned.addEventListener("change", () => { if (out.tree) drawTree(out, out.tree, pruned.checked); });
  run();
}

function treeLabel(token) {
  const [label] = pieceLabels([token]);
  return label.length > 11 ? `${label.slice(0, 10)}…` : label;
}

// Layout: one column per output position, its candidates stacked in the order of their
// parents (so edges barely cross), best first among siblings; the start sits mid-column. The
// tree is as tall as the widest step (2 x beam candidates), however long the output.
function layoutTree(nodes, showPruned) {
  const byId = new Map(nodes.map((n) => [n.id, { ...n, children: [] }]));
  const root = { id: 0, step: -1, token: "<s>", status: "kept", children: [], x: TREE.left };
  byId.set(0, root);
  const columns = [];
  nodes.forEach((n) => {
    if (!showPruned && n.status === "pruned") return;
    const parent = byId.get(n.parent);
    if (!parent) return;
    const node = byId.get(n.id);
    node.parentNode = parent;
    parent.children.push(node);
    (columns[n.step] = columns[n.step] || []).push(node);
  });
  const score = (n) => (n.score ?? -Infinity);
  byId.forEach((n) => n.children.sort((a, b) => score(b) - score(a)));
  let rows = 1;
  columns.forEach((column, step) => {
    column.sort((a, b) => (a.parentNode.rank ?? 0) - (b.parentNode.rank ?? 0) || score(b) - score(a));
    column.forEach((n, i) => {
      n.rank = i;
      n.y = TREE.top + TREE.boxH / 2 + i * TREE.gap;
      n.x = TREE.left + (step + 1) * TREE.col;
    });
    rows = Math.max(rows, column.length);
  });
  const first = root.children.map((c) => c.y);
  root.y = first.length ? (Math.min(...first) + Math.max(...first)) / 2 : TREE.top + TREE.boxH / 2;
  return { root, byId, height: 2 * TREE.top + rows * TREE.gap };
}

// The winner's nodes: follow its tokens from the start.
function bestPath(root, tokens) {
  const path = [];
  let n = root;
  for (const tok of tokens) {
    n = n.children.find((c) => c.token === tok);
    if (!n) return [];
    path.push(n.id);
  }
  return path;
}

function drawTree(out, result, showPruned) {
  const { root, height } = layoutTree(result.tree, showPruned);
  const best = new Set(bestPath(root, result.hypotheses[0].tgt_tokens));
  const all = [];
  const walk = (n) => { all.push(n); n.children.forEach(walk); };
  walk(root);
  const steps = Math.max(...all.map((n) => n.step)) + 2;
  const width = TREE.left + steps * TREE.col + TREE.boxW;
  const counts = { kept: 0, finished: 0, pruned: 0 };
  result.tree.forEach((n) => { counts[n.status] = (counts[n.status] || 0) + 1; });
  const chart = svg("svg", { class: "beam-tree", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Beam search tree: ${counts.kept} kept, ${counts.finished} finished, ${counts.pruned} pruned candidates` });
  const edges = svg("g", { class: "edges", "aria-hidden": "true" });
  const boxes = svg("g", { class: "nodes" });
  chart.append(edges, boxes);
  all.forEach((n) => {
    const onBest = n.id === 0 || best.has(n.id);
    n.children.forEach((c) => {
      const x0 = n.x + TREE.boxW / 2;
      const x1 = c.x - TREE.boxW / 2;
      const mid = (x0 + x1) / 2;
      edges.append(svg("path", { d: `M${x0},${n.y} C${mid},${n.y} ${mid},${c.y} ${x1},${c.y}`,
        class: `edge ${c.status}${onBest && best.has(c.id) ? " best" : ""}` }));
    });
    const mark = n.id === 0 ? "" : n.status === "finished" ? "✔ " : n.status === "pruned" ? "✕ " : "";
    const star = best.has(n.id) && n.status === "finished" ? " ★" : "";
    const h = n.status === "pruned" ? TREE.boxHPruned : TREE.boxH; // pruned: smaller, so the tree stays compact
    const g = svg("g", { class: `tree-node ${n.status}${best.has(n.id) ? " best" : ""}`,
      transform: `translate(${n.x - TREE.boxW / 2},${n.y - h / 2})` });
    if (n.id !== 0) {
      const label = pieceLabels([n.token])[0];
      g.setAttribute("role", "button");
      g.setAttribute("tabindex", "-1");
      g.setAttribute("aria-label", `position ${n.step + 1}: ${label}, ${n.status}${best.has(n.id) ? ", on the best path" : ""}, ` +
        `log p ${num(n.score)}`);
      g.dataset.id = String(n.id);
      g.append(svg("title", {}, `${label} · ${n.status} · cumulative log p ${num(n.score)}`));
    }
    g.append(svg("rect", { width: TREE.boxW, height: h, rx: 4, class: "box" }));
    if (n.status === "finished") g.append(svg("rect", { x: 3, y: 3, width: TREE.boxW - 6, height: h - 6, rx: 2, class: "inner" }));
    g.append(svg("text", { x: TREE.boxW / 2, y: h / 2 + 4, "text-anchor": "middle" }, `${mark}${treeLabel(n.token)}${star}`));
    boxes.append(g);
  });
  const detail = el("div", { class: "tree-detail", "aria-live": "polite" },
    el("p", { class: "muted", text: "Click a node (or Tab to the tree and press Enter) to see the attention it was chosen with." }));
  const legend = el("p", { class: "tree-legend" },
    el("span", { class: "lg kept", text: "kept" }), " solid: stays in the beam · ",
    el("span", { class: "lg finished", text: "✔ finished" }), " double: ended the sentence · ",
    el("span", { class: "lg pruned", text: "✕ pruned" }), " dashed: dropped · ★ the best translation; " +
    "numbers are cumulative log-probabilities (on each node's tooltip)");
  out.replaceChildren(legend, el("div", { class: "tree-scroll" }, chart), detail);
  const first = $(".tree-node.best[data-id]", chart) || $(".tree-node[data-id]", chart);
  if (first) first.setAttribute("tabindex", "0");
  wireTree(chart, all, result, detail);
}

function showNode(n, result, detail) {
  const src = pieceLabels(result.src_tokens);
  const label = pieceLabels([n.token])[0];
  const head = el("p", {}, el("strong", { text: `Position ${n.step + 1}: “${label}”` }),
    ` · ${n.status} · cumulative log p ${num(n.score)}`);
  if (!n.attention) { detail.replaceChildren(head, el("p", { class: "muted", text: "No attention (this model has none)." })); return; }
  const table = barTable(`Attention when “${label}” was scored (one row of its map)`,
    n.attention.map((w, j) => ({ label: src[j], value: w, text: w.toFixed(3) })), { cls: "tree-attn" });
  detail.replaceChildren(head, el("div", { class: "tree-attn-scroll", tabindex: "0", role: "group",
    "aria-label": "Attention row" }, table));
}

function wireTree(chart, all, result, detail) {
  const byId = new Map(all.map((n) => [String(n.id), n]));
  const parentOf = new Map();
  all.forEach((n) => n.children.forEach((c) => parentOf.set(c.id, n)));
  const nodeEl = (n) => n && $(`.tree-node[data-id="${n.id}"]`, chart);
  const select = (g) => {
    $$(".tree-node.selected", chart).forEach((x) => x.classList.remove("selected"));
    g.classList.add("selected");
    showNode(byId.get(g.dataset.id), result, detail);
  };
  const moveTo = (from, to) => {
    const target = nodeEl(to);
    if (!target) return;
    from.setAttribute("tabindex", "-1");
    target.setAttribute("tabindex", "0");
    target.focus();
  };
  chart.addEventListener("click", (e) => {
    const g = e.target.closest(".tree-node[data-id]");
    if (g) { moveTo($(".tree-node[tabindex='0']", chart) || g, byId.get(g.dataset.id)); select(g); }
  });
  chart.addEventListener("keydown", (e) => {
    const g = e.target.closest(".tree-node[data-id]");
    if (!g) return;
    const n = byId.get(g.dataset.id);
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(g); return; }
    const column = all.filter((m) => m.step === n.step && m.id !== 0).sort((a, b) => a.y - b.y);
    const k = column.indexOf(n);
    const to = { ArrowLeft: parentOf.get(n.id), ArrowRight: n.children[0],
      ArrowUp: column[k - 1], ArrowDown: column[k + 1] }[e.key];
    if (e.key in { ArrowLeft: 1, ArrowRight: 1, ArrowUp: 1, ArrowDown: 1 }) {
      e.preventDefault();
      if (to && to.id !== 0) moveTo(g, to);
    }
  });
}
