/**
 * Turns bench/results.json (the object run.mjs writes) into markdown tables and a one-line
 * machine description. Used by run.mjs (printed at the end of a run) and chart.mjs.
 */

export const MODES = [
  { id: 'loss+grad', title: 'Loss + gradient' },
  { id: 'loss', title: 'Loss only' },
];

/** Floors do not depend on the mode: they are measured once and stored with mode 'any'. */
export function findResult(results, shapeId, mode, methodId) {
  return (
    results.results.find((r) => r.shape === shapeId && r.mode === mode && r.method === methodId) ??
    results.results.find((r) => r.shape === shapeId && r.mode === 'any' && r.method === methodId)
  );
}

/** Three significant digits, but never scientific notation. */
export function formatNumber(value) {
  if (value == null || !Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return Math.round(value).toString();
  return value.toPrecision(3);
}

export function machineLine(results) {
  const m = results.machine;
  return `${m.cpuModel}, ${m.cores} cores, Node ${m.node} (V8 ${m.v8}), ${m.date.slice(0, 10)}`;
}

function shapeHeader(shape) {
  return shape.rows === 1 ? `${shape.label} †` : shape.label;
}

/** A markdown table, methods as rows and shapes as columns; undefined when no row has a value. */
function table(results, mode, cell) {
  const shapes = results.shapes;
  let rowCount = 0;
  const lines = [
    `| method | ${shapes.map(shapeHeader).join(' | ')} |`,
    `|---|${shapes.map(() => '---:').join('|')}|`,
  ];
  for (const method of results.methods) {
    const cells = shapes.map((shape) => {
      const result = findResult(results, shape.id, mode, method.id);
      return result ? cell(result) : '—';
    });
    if (cells.every((c) => c === '—')) continue;
    lines.push(`| ${method.label} | ${cells.join(' | ')} |`);
    rowCount++;
  }
  return rowCount ? lines.join('\n') : undefined;
}

/** All tables for one results object, as one markdown string. */
export function markdownTables(results) {
  const { smoothing, reduction } = results.config;
  const hasBaseline = results.shapes.some((s) => s.rows === 1);
  const notes = [
    `ns per element (element = one logit), median of tinybench samples; ε = ${smoothing}, reduction '${reduction}'.`,
    `Machine: ${machineLine(results)}.`,
    hasBaseline ? '† call-overhead baseline (N = 1, K = 4): ns per call = 4 × the number shown.' : '',
    'Floors (one expf pass, memcpy) do not depend on the mode: measured once per shape, shown in both modes.',
  ].filter(Boolean);
  const parts = [notes.join('\n')];
  const add = (title, body) => {
    if (body) parts.push(`### ${title}\n\n${body}`);
  };
  for (const mode of MODES) {
    if (!results.results.some((r) => r.mode === mode.id)) continue;
    add(`${mode.title}: ns per element (lower is better)`, table(results, mode.id, (r) => formatNumber(r.medianNsPerElement)));
    add(
      `${mode.title}: speed-up over tfjs-wasm (tfjs-wasm time ÷ method time, higher is better)`,
      table(results, mode.id, (r) => (r.speedupVsTfjsWasm == null ? '—' : `${formatNumber(r.speedupVsTfjsWasm)}×`)),
    );
    add(
      `${mode.title}: time ÷ exp floor (method time ÷ one SIMD expf pass; 1 = the floor, lower is better)`,
      table(results, mode.id, (r) => (r.timeOverExpFloor == null ? '—' : formatNumber(r.timeOverExpFloor))),
    );
  }
  return parts.join('\n\n') + '\n';
}
