/** Number formatting for the page: fixed decimals, a real minus sign, ±∞ spelled out. */
export function formatNumber(value: number, decimals = 4): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '∞';
  if (value === -Infinity) return '−∞';
  const text = value.toFixed(decimals);
  // −0.0000 reads as a sign error; show it as 0.
  if (Number(text) === 0) return (0).toFixed(decimals);
  return text.replace('-', '−');
}

/** Shows `value` rounded, keeping the full-precision value in data-value for tests and copy-paste. */
export function setNumber(element: HTMLElement, value: number, text = formatNumber(value)): void {
  element.textContent = text;
  element.dataset.value = String(value);
}

/** Like formatNumber, with an explicit + on positive values (for gradients). */
export function formatSigned(value: number, decimals = 4): string {
  const text = formatNumber(value, decimals);
  return value > 0 && Number(value.toFixed(decimals)) !== 0 ? `+${text}` : text;
}

/**
 * Whether a float32 kernel value agrees with its float64 reference: within `tolerance`
 * relative (to max(1, |expected|)) when both are finite, equal when both are infinite (+∞
 * against +∞ is agreement, not |∞ − ∞| = NaN), and never when either is NaN. `difference`
 * describes the gap for the page: '|Δ| = 2.1e-8', 'both ∞', …
 */
export function compareValues(got: number, expected: number, tolerance = 1e-6): { agrees: boolean; difference: string } {
  if (Number.isNaN(got) || Number.isNaN(expected)) return { agrees: false, difference: `${formatNumber(got)} vs ${formatNumber(expected)}` };
  if (!Number.isFinite(got) || !Number.isFinite(expected)) {
    return got === expected
      ? { agrees: true, difference: `both ${formatNumber(got)}` }
      : { agrees: false, difference: `${formatNumber(got)} vs ${formatNumber(expected)}` };
  }
  const gap = Math.abs(got - expected);
  return { agrees: gap <= tolerance * Math.max(1, Math.abs(expected)), difference: `|Δ| = ${gap.toExponential(1)}` };
}
