// Colour: a sequential ramp from near-white to deep blue, mid weights clearly tinted, and the
// text colour (black or white) with the better contrast on it. Pure (no DOM; tests/js/).

export const RAMP = [[0, [248, 250, 252]], [0.05, [224, 236, 244]], [0.15, [171, 217, 233]], [0.3, [116, 185, 219]],
  [0.45, [66, 146, 198]], [0.6, [33, 113, 181]], [0.8, [8, 81, 156]], [1, [8, 48, 107]]];

// The [r, g, b] of weight w (clamped to 0..1; not a number counts as 0), linear between stops.
export function rampColour(w) {
  const x = Math.min(1, Math.max(0, Number(w) || 0));
  for (let k = 1; k < RAMP.length; k += 1) {
    const [x1, c1] = RAMP[k];
    const [x0, c0] = RAMP[k - 1];
    if (x <= x1) {
      const f = (x - x0) / (x1 - x0);
      return c0.map((v, n) => Math.round(v + f * (c1[n] - v)));
    }
  }
  return [...RAMP[RAMP.length - 1][1]];
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
