// Colour: a sequential ramp from near-white to deep blue, mid weights clearly tinted, a
// diverging one for signed scores (orange-red below 0, white at 0, blue above), and the text
// colour (black or white) with the better contrast on it. Pure (no DOM; tests/js/).

export const RAMP = [[0, [248, 250, 252]], [0.05, [224, 236, 244]], [0.15, [171, 217, 233]], [0.3, [116, 185, 219]],
  [0.45, [66, 146, 198]], [0.6, [33, 113, 181]], [0.8, [8, 81, 156]], [1, [8, 48, 107]]];

// The [r, g, b] of weight w (clamped to 0..1; not a number counts as 0), linear between stops.
export const rampColour = (w) => onStops(RAMP, w);

// The diverging scale: stops for -1..1 (an attribution's score over its row's largest |score|).
export const DIVERGING = [[-1, [153, 52, 4]], [-0.5, [236, 112, 20]], [-0.15, [254, 217, 142]], [0, [248, 250, 252]],
  [0.15, [171, 217, 233]], [0.5, [66, 146, 198]], [1, [8, 48, 107]]];

// The [r, g, b] of `x` on a scale of stops (clamped to its ends; not a number counts as 0).
function onStops(stops, x) {
  const lo = stops[0][0];
  const hi = stops[stops.length - 1][0];
  const v = Math.min(hi, Math.max(lo, Number(x) || 0));
  for (let k = 1; k < stops.length; k += 1) {
    const [x1, c1] = stops[k];
    const [x0, c0] = stops[k - 1];
    if (v <= x1) {
      const f = (v - x0) / (x1 - x0);
      return c0.map((c, n) => Math.round(c + f * (c1[n] - c)));
    }
  }
  return [...stops[stops.length - 1][1]];
}

// The [r, g, b] of a signed score scaled to -1..1.
export const divergingColour = (x) => onStops(DIVERGING, x);

// The diverging scale as a CSS gradient, for the legend bar.
export function divergingGradient() {
  const stops = DIVERGING.map(([x, c]) => `${cssRgb(c)} ${(x + 1) * 50}%`).join(", ");
  return `linear-gradient(to right, ${stops})`;
}

// WCAG relative luminance of an sRGB colour.
export function luminance(rgb) {
  const lin = rgb.map((v) => { const c = v / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

// "#000" or "#fff", whichever has the higher contrast ratio on `rgb`.
export function textColourOn(rgb) {
  const l = luminance(rgb);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000" : "#fff";
}

export const cssRgb = (rgb) => `rgb(${rgb.join(" ")})`;

// The ramp as a CSS gradient, for the legend bar.
export function rampGradient() {
  const stops = RAMP.map(([x, c]) => `${cssRgb(c)} ${x * 100}%`).join(", ");
  return `linear-gradient(to right, ${stops})`;
}
