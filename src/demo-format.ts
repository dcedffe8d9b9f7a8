/** `npm start`'s text layout: 4 decimals, right-aligned number columns, gradients with an explicit sign. */

export const fixed = (x: number): string => (x === Infinity ? '∞' : x.toFixed(4));
export const signed = (x: number): string => (x > 0 ? '+' : '') + fixed(x);
export const vector = (values: ArrayLike<number>): string => `[${Array.from(values, (x) => x.toFixed(3)).join(', ')}]`;

export function table(headers: string[], rows: string[][], indent = '  '): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  // The first column holds names (left-aligned), every other column numbers (right-aligned).
  const line = (cells: string[]): string =>
    indent + cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

export function section(title: string): void {
  console.log(`\n${title}\n${'─'.repeat(title.length)}`);
}
