// Where the arrow keys move focus, in the attention map and its token strips. Pure (no DOM;
// tests/js/): the page turns the answers into focus moves.

// From cell (i, j) of a map whose last cell is (last.i, last.j): the next cell, or null when
// `key` is not a move. Arrows step (stopping at the edges); Home and End go to the row's ends.
export function nextCell(i, j, last, key) {
  if (key === "ArrowRight") return { i, j: Math.min(last.j, j + 1) };
  if (key === "ArrowLeft") return { i, j: Math.max(0, j - 1) };
  if (key === "ArrowDown") return { i: Math.min(last.i, i + 1), j };
  if (key === "ArrowUp") return { i: Math.max(0, i - 1), j };
  if (key === "Home") return { i, j: 0 };
  if (key === "End") return { i, j: last.j };
  return null;
}

// From token k of a strip of n: the next token's index, or null when `key` is not a move.
// Right and Down go forward, Left and Up back (stopping at the ends); Home and End jump.
export function nextInStrip(k, n, key) {
  if (key === "Home") return 0;
  if (key === "End") return n - 1;
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[key];
  if (step === undefined) return null;
  return Math.min(n - 1, Math.max(0, k + step));
}
