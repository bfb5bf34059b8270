// The controls' logic: which beams and n-best values to offer, and reading the input's lines
// against the server's limits. Pure (no DOM; tests/js/).

export const BEAMS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16];
export const TREE_BEAMS = [2, 3, 4, 5, 6, 8];

// The beams to offer: BEAMS, plus the model's default when it is not one of them.
export function beamValues(defaultBeam) {
  return BEAMS.includes(defaultBeam) ? BEAMS : [...BEAMS, defaultBeam].sort((x, y) => x - y);
}

// The n-best values a beam allows (1..5, at most the beam) and the one to select, keeping
// the current choice where it still fits. Both arguments as the selects give them (strings).
export function nbestChoice(beam, current) {
  const b = Number(beam) || 1;
  const keep = Math.min(Number(current) || 1, b);
  const values = [1, 2, 3, 4, 5].filter((n) => n <= b);
  return { values, value: Math.min(keep, values[values.length - 1]) };
}

// The beam tree's starting beam: the result's beam within 2..8 when offered, else 5.
export function treeBeam(beam) {
  const b = Math.max(2, Math.min(8, beam || 5));
  return TREE_BEAMS.includes(b) ? b : 5;
}

// The non-empty, trimmed lines of `text`: { texts } or { error } when there are none or
// they break the server's limits ({ max_texts, max_chars }).
export function readTexts(text, limits) {
  const lines = text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (lines.length === 0) return { error: "Type a sentence first (or click an example)." };
  if (lines.length > limits.max_texts) {
    return { error: `Too many lines: ${lines.length} (at most ${limits.max_texts} at once).` };
  }
  const long = lines.findIndex((s) => s.length > limits.max_chars);
  if (long >= 0) {
    return { error: `Line ${long + 1} has ${lines[long].length} characters (at most ${limits.max_chars}); split it.` };
  }
  return { texts: lines };
}

// The first non-empty line, trimmed (undefined when there is none).
export function firstLine(text) {
  return text.split(/\r?\n/).map((s) => s.trim()).find((s) => s.length > 0);
}
