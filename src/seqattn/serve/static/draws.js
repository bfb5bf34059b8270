// Samples in numbers: a seed to repeat a draw, and the rows that set five samples beside the
// beam's output. Pure (no DOM; tests/js/); samples.js draws them.

export const MAX_SEED = 2 ** 32 - 1; // the server's seeds are 32-bit
export const TEMPERATURES = [0.5, 0.7, 1, 1.3, 1.6];
export const SAMPLES = 5;

// A fresh seed from `random` (a function giving [0, 1), Math.random by default).
export function randomSeed(random = Math.random) {
  return Math.floor(random() * (MAX_SEED + 1));
}

// The seed typed into the box: { seed } or { error } in words.
export function parseSeed(text) {
  const t = String(text).trim();
  if (!/^\d+$/.test(t) || Number(t) > MAX_SEED) {
    return { error: `The seed must be a whole number from 0 to ${MAX_SEED} (got “${t || "nothing"}”).` };
  }
  return { seed: Number(t) };
}

// Rows for the table: the beam's output first (`beam`: { text, logprob } or null), then each
// sample ({ text, score }: its log-probability under the model), each marked when it equals the
// beam's output or an earlier sample.
export function sampleRows(beam, samples) {
  const rows = beam ? [{ kind: "beam", text: beam.text, logprob: beam.logprob, note: "" }] : [];
  const seen = new Map();
  samples.forEach((s, k) => {
    let note = "";
    if (beam && s.text === beam.text) note = "= the beam's output";
    else if (seen.has(s.text)) note = `= sample ${seen.get(s.text) + 1}`;
    if (!seen.has(s.text)) seen.set(s.text, k);
    rows.push({ kind: "sample", n: k + 1, text: s.text, logprob: s.score, note });
  });
  return rows;
}

// "3 different outputs among 5 samples; 1 is the beam's output."
export function samplesSummary(beam, samples) {
  const distinct = new Set(samples.map((s) => s.text)).size;
  const same = beam ? samples.filter((s) => s.text === beam.text).length : 0;
  const parts = [`${distinct} different output${distinct === 1 ? "" : "s"} among ${samples.length} samples`];
  if (beam) parts.push(same ? `${same} ${same === 1 ? "is" : "are"} the beam's output` : "none is the beam's output");
  return `${parts.join("; ")}.`;
}
