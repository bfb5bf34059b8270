// The beam tree's geometry: where each candidate sits, which ones are the winner's path, the
// edges' curves and the keyboard's neighbours. Pure (no DOM; tests/js/); beamtree.js draws it.

export const TREE = { col: 104, boxW: 88, boxH: 22, boxHPruned: 18, gap: 28, left: 50, top: 12 };

// Layout: one column per output position, its candidates stacked in the order of their
// parents (so edges barely cross), best first among siblings; the start sits mid-column. The
// tree is as tall as the widest step (2 x beam candidates), however long the output.
// `nodes`: the API's tree ({ id, parent, step, token, score, status }); the start is id 0.
export function layoutTree(nodes, showPruned) {
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

// The winner's nodes: follow its tokens from the start (empty when they leave the tree).
export function bestPath(root, tokens) {
  const path = [];
  let n = root;
  for (const tok of tokens) {
    n = n.children.find((c) => c.token === tok);
    if (!n) return [];
    path.push(n.id);
  }
  return path;
}

// Every node reachable from the root, parents before children.
export function treeNodes(root) {
  const all = [];
  const walk = (n) => { all.push(n); n.children.forEach(walk); };
  walk(root);
  return all;
}

// The drawing's width: room for every column (the start's included) and the last box.
export function treeWidth(all) {
  const steps = Math.max(...all.map((n) => n.step)) + 2;
  return TREE.left + steps * TREE.col + TREE.boxW;
}

// How many candidates of each status the API's tree has.
export function statusCounts(nodes) {
  const counts = { kept: 0, finished: 0, pruned: 0 };
  nodes.forEach((n) => { counts[n.status] = (counts[n.status] || 0) + 1; });
  return counts;
}

// The SVG path of the edge from box `n` to box `c`: a curve from n's right to c's left side.
export function edgePath(n, c) {
  const x0 = n.x + TREE.boxW / 2;
  const x1 = c.x - TREE.boxW / 2;
  const mid = (x0 + x1) / 2;
  return `M${x0},${n.y} C${mid},${n.y} ${mid},${c.y} ${x1},${c.y}`;
}

// A node's mark before its label, star after it and box height (pruned boxes are smaller,
// so the tree stays compact). `best`: the Set of the winner's node ids.
export function nodeFace(n, best) {
  const mark = n.id === 0 ? "" : n.status === "finished" ? "✔ " : n.status === "pruned" ? "✕ " : "";
  const star = best.has(n.id) && n.status === "finished" ? " ★" : "";
  return { mark, star, height: n.status === "pruned" ? TREE.boxHPruned : TREE.boxH };
}

// Where an arrow key moves from node n among `all`: ← its parent, → its best child, ↑ ↓ its
// neighbours in the same column. undefined when `key` is not an arrow; null when there is no
// node that way (the start is never a target).
export function treeNeighbour(all, n, key) {
  if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(key)) return undefined;
  const column = all.filter((m) => m.step === n.step && m.id !== 0).sort((a, b) => a.y - b.y);
  const k = column.indexOf(n);
  const to = { ArrowLeft: n.parentNode, ArrowRight: n.children[0], ArrowUp: column[k - 1], ArrowDown: column[k + 1] }[key];
  return to && to.id !== 0 ? to : null;
}
