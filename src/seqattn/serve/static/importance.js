// Attributions in numbers and words: the methods' names, each row's scale for the diverging
// colours, values with their sign, and where attention and a method agree on the most
// important source token. Pure (no DOM; tests/js/); attribution.js draws them.

export const METHOD_NAMES = {
  saliency: "saliency", input_x_gradient: "input × gradient", integrated_gradients: "integrated gradients",
  occlusion: "occlusion",
};

export const METHOD_NOTES = {
  saliency: "the size of the gradient of the output token's log-probability with respect to each source " +
    "token's embedding (never negative)",
  input_x_gradient: "each source embedding times that gradient, summed (signed: blue raises the output token's " +
    "log-probability, orange lowers it)",
  integrated_gradients: "gradients averaged along the way from a baseline (every source token replaced by " +
    "<pad>) to the sentence, times the difference; a row sums to the change in log-probability (signed)",
  occlusion: "how much the output token's log-probability falls when that source token is dropped (signed)",
};

// Each row's largest |score| (1 for a row of zeros), to scale the row to -1..1.
export function rowScales(matrix) {
  return matrix.map((row) => Math.max(...row.map((x) => Math.abs(x || 0))) || 1);
}

// A signed score in a few characters, with a true minus: "+0.712", "−0.0031", "0".
export function signed(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "n/a";
  if (x === 0) return "0";
  const text = Math.abs(x) >= 0.01 ? Math.abs(x).toFixed(digits) : Math.abs(x).toPrecision(2);
  return (x < 0 ? "−" : "+") + text;
}

// A cell's text when numbers are shown: two decimals, or two significant digits when smaller.
export function cellText(x) {
  if (!x) return "0";
  const a = Math.abs(x);
  return (x < 0 ? "−" : "") + (a >= 0.01 ? a.toFixed(2) : a.toExponential(0).replace("e-", "e−"));
}

// The four largest |scores| of [label, score] pairs: "AI +0.700 · like −0.200".
export function signedTop(pairs) {
  return pairs.filter(([, x]) => x).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 4)
    .map(([t, x]) => `${t} ${signed(x)}`).join(" · ");
}

// The index of a row's largest |value|; -1 for a row of zeros.
export function topIndex(row) {
  let best = -1;
  row.forEach((x, j) => { if (x && (best < 0 || Math.abs(x) > Math.abs(row[best]))) best = j; });
  return best;
}

// Where attention's and a method's most important source token are the same, row by row
// (rows of zeros in the method, e.g. uncontrasted rows, are left out): { agree, rows, same }.
export function topAgreement(attention, scores) {
  const same = scores.map((row, i) => {
    const k = topIndex(row);
    return k < 0 ? null : k === topIndex(attention[i]);
  });
  const counted = same.filter((x) => x !== null);
  return { agree: counted.filter(Boolean).length, rows: counted.length, same };
}

// The summary's sentence about agreement (`unit`: "word", "subword").
export function agreementText(method, { agree, rows }, unit = "token") {
  const name = METHOD_NAMES[method] || method;
  if (!rows) return `Every row of ${name} is 0: nothing to compare.`;
  return `Attention and ${name} pick the same most important source ${unit} for ${agree} of ${rows} ` +
    `output ${unit}${rows === 1 ? "" : "s"}.`;
}
