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

/** Like formatNumber, with an explicit + on positive values (for gradients). */
export function formatSigned(value: number, decimals = 4): string {
  const text = formatNumber(value, decimals);
  return value > 0 && Number(value.toFixed(decimals)) !== 0 ? `+${text}` : text;
}
