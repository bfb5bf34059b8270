// The beam tree's layout (src/seqattn/serve/static/treelayout.js). TREE: columns 104 apart
// from x = 50, rows 28 apart from y = 12 + 22 / 2 = 23, boxes 88 wide.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  bestPath, edgePath, layoutTree, nodeFace, statusCounts, treeNeighbour, treeNodes, treeWidth,
} from "../../src/seqattn/serve/static/treelayout.js";

// the start (id 0) and two candidates, the worse listed first
const THREE = [
  { id: 2, parent: 0, step: 0, token: "▁b", score: -0.5, status: "kept" },
  { id: 1, parent: 0, step: 0, token: "▁a", score: -0.1, status: "kept" },
];
// a second step: b's child scores better than a's, but sits below it (parents' order)
const FIVE = [...THREE,
  { id: 3, parent: 2, step: 1, token: "▁d", score: -0.6, status: "finished" },
  { id: 4, parent: 1, step: 1, token: "▁c", score: -0.9, status: "finished" },
  { id: 5, parent: 1, step: 1, token: "▁e", score: -2.0, status: "pruned" },
];

const at = (n) => [n.x, n.y];

test("a 3-node tree: the start mid-column, its children stacked best first", () => {
  const { root, byId, height } = layoutTree(THREE, true);
  assert.deepEqual(at(byId.get(1)), [154, 23]);
  assert.deepEqual(at(byId.get(2)), [154, 51]);
  assert.deepEqual(at(root), [50, 37]);
  assert.equal(height, 80); // 2 x 12 + 2 rows x 28
  assert.deepEqual(root.children.map((c) => c.id), [1, 2]);
});

test("a column follows its parents' order, then score", () => {
  const { byId, height } = layoutTree(FIVE, true);
  assert.deepEqual([4, 5, 3].map((id) => at(byId.get(id))), [[258, 23], [258, 51], [258, 79]]);
  assert.equal(height, 108);
  assert.equal(byId.get(4).parentNode.id, 1);
});

test("pruned candidates can be left out", () => {
  const { root, byId, height } = layoutTree(FIVE, false);
  assert.deepEqual(treeNodes(root).map((n) => n.id), [0, 1, 4, 2, 3]);
  assert.deepEqual(at(byId.get(3)), [258, 51]);
  assert.equal(height, 80);
});

test("an empty tree is the start alone", () => {
  const { root, height } = layoutTree([], true);
  assert.deepEqual(at(root), [50, 23]);
  assert.equal(height, 52);
  assert.equal(treeWidth(treeNodes(root)), 50 + 104 + 88);
});

test("the winner's path follows its tokens; tokens off the tree give none", () => {
  const { root } = layoutTree(FIVE, true);
  assert.deepEqual(bestPath(root, ["▁a", "▁c"]), [1, 4]);
  assert.deepEqual(bestPath(root, ["▁b", "▁d"]), [2, 3]);
  assert.deepEqual(bestPath(root, ["▁a", "▁d"]), []);
});

test("width, counts, edges and faces", () => {
  const { root, byId } = layoutTree(FIVE, true);
  assert.equal(treeWidth(treeNodes(root)), 50 + 3 * 104 + 88);
  assert.deepEqual(statusCounts(FIVE), { kept: 2, finished: 2, pruned: 1 });
  assert.equal(edgePath(root, byId.get(1)), "M94,37 C102,37 102,23 110,23");
  const best = new Set([1, 4]);
  assert.deepEqual(nodeFace(byId.get(4), best), { mark: "✔ ", star: " ★", height: 22 });
  assert.deepEqual(nodeFace(byId.get(3), best), { mark: "✔ ", star: "", height: 22 });
  assert.deepEqual(nodeFace(byId.get(5), best), { mark: "✕ ", star: "", height: 18 });
  assert.deepEqual(nodeFace(root, best), { mark: "", star: "", height: 22 });
});

test("arrow keys: ← parent, → best child, ↑ ↓ the column; never the start", () => {
  const { root, byId } = layoutTree(FIVE, true);
  const all = treeNodes(root);
  const from = (id, key) => treeNeighbour(all, byId.get(id), key);
  assert.equal(from(1, "ArrowDown").id, 2);
  assert.equal(from(1, "ArrowUp"), null);
  assert.equal(from(1, "ArrowLeft"), null);
  assert.equal(from(1, "ArrowRight").id, 4);
  assert.equal(from(4, "ArrowLeft").id, 1);
  assert.equal(from(5, "ArrowDown").id, 3);
  assert.equal(from(3, "ArrowRight"), null);
  assert.equal(from(1, "Enter"), undefined);
});
