// The beam, not only its winners: POST /v1/translate with "tree": true, drawn as an SVG tree,
// one column per output position. Kept, finished and pruned candidates differ in outline
// (solid, double, dashed) and mark (none, ✔, ✕), not only in colour; the winner's path is
// starred. Click a node, or focus it and press Enter, to see the attention row it was
// chosen with; the arrow keys walk the tree (← parent, → best child, ↑ ↓ same column).

import { postJSON } from "./api.js";
import { $, $$, el, option, svg, uid } from "./dom.js";
import { num } from "./format.js";
import { TREE_BEAMS, treeBeam } from "./forms.js";
import { pieceLabels, shortLabel } from "./tokens.js";
import {
  TREE, bestPath, edgePath, layoutTree, nodeFace, statusCounts, treeNeighbour, treeNodes, treeWidth,
} from "./treelayout.js";
import { barTable, panelError } from "./widgets.js";

export function buildBeamTree(panel, ctx) {
  const beamId = uid("tree-beam");
  const choose = el("select", { id: beamId, class: "tree-beam" }, TREE_BEAMS.map((b) => option(b)));
  choose.value = String(treeBeam(ctx.beam));
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

function drawTree(out, result, showPruned) {
  const { root, height } = layoutTree(result.tree, showPruned);
  const best = new Set(bestPath(root, result.hypotheses[0].tgt_tokens));
  const all = treeNodes(root);
  const width = treeWidth(all);
  const counts = statusCounts(result.tree);
  const chart = svg("svg", { class: "beam-tree", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Beam search tree: ${counts.kept} kept, ${counts.finished} finished, ${counts.pruned} pruned candidates` });
  const edges = svg("g", { class: "edges", "aria-hidden": "true" });
  const boxes = svg("g", { class: "nodes" });
  chart.append(edges, boxes);
  all.forEach((n) => {
    const onBest = n.id === 0 || best.has(n.id);
    n.children.forEach((c) => {
      edges.append(svg("path", { d: edgePath(n, c), class: `edge ${c.status}${onBest && best.has(c.id) ? " best" : ""}` }));
    });
    const { mark, star, height: h } = nodeFace(n, best);
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
    const label = shortLabel(pieceLabels([n.token])[0]);
    g.append(svg("text", { x: TREE.boxW / 2, y: h / 2 + 4, "text-anchor": "middle" }, `${mark}${label}${star}`));
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
    const to = treeNeighbour(all, n, e.key);
    if (to === undefined) return; // not an arrow
    e.preventDefault();
    if (to) moveTo(g, to);
  });
}
