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

/** Rows of `pairs` ({ label, a, b } method ids) against shapes: cell(resultA, resultB, shape). */
function pairTable(results, mode, pairs, cell) {
  const shapes = results.shapes;
  const lines = [`| method | ${shapes.map(shapeHeader).join(' | ')} |`, `|---|${shapes.map(() => '---:').join('|')}|`];
  let rowCount = 0;
  for (const { label, a, b } of pairs) {
    const cells = shapes.map((shape) => {
      const x = findResult(results, shape.id, mode, a);
      const y = findResult(results, shape.id, mode, b);
      return x && y ? cell(x, y, shape) : '—';
    });
    if (cells.every((c) => c === '—')) continue;
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
    rowCount++;
  }
  return rowCount ? lines.join('\n') : undefined;
}

const labelOf = (results, id) => results.methods.find((m) => m.id === id)?.label ?? id;

/** Each `-t2` method with its one-thread twin (the same id without the suffix). */
function threadPairs(results) {
  return results.methods
    .filter((m) => m.id.endsWith('-t2') && results.methods.some((t) => t.id === m.id.slice(0, -3)))
    .map((m) => ({ label: labelOf(results, m.id.slice(0, -3)), a: m.id.slice(0, -3), b: m.id }));
}

/** Each `-async` method with its sync twin. */
function asyncPairs(results) {
  return results.methods
    .filter((m) => m.id.includes('-async'))
    .map((m) => ({ label: m.label, a: m.id.replace('-async', ''), b: m.id }))
    .filter((p) => results.methods.some((m) => m.id === p.a));
}

/**
 * The README's threads summary: for each mode, 2 threads over 1 for every pair; loss only
 * against onnxruntime-node with its default threads; the fixed cost of an async call.
 */
export function threadsSummary(results) {
  const m = results.machine;
  const parts = [
    `From \`${results.config.command}\` on ${machineLine(results)}; load average ${m.loadAverageAtStart.join(' ')} at the start, ` +
      `${(m.loadAverageAtEnd ?? []).join(' ')} at the end (speed-ups from threads need idle cores: a loaded machine shows less).`,
  ];
  for (const mode of MODES) {
    const body = pairTable(results, mode.id, threadPairs(results), (one, two) => `${formatNumber(one.medianNsPerElement / two.medianNsPerElement)}×`);
    if (body) parts.push(`**${mode.title}, 2 threads ÷ 1 thread** (1-thread time ÷ 2-thread time):\n\n${body}`);
  }
  const versusOrt = table(results, 'loss', (r) =>
    r.speedupVsOnnxruntime == null ? '—' : `${formatNumber(r.medianNsPerElement)} (${formatNumber(r.speedupVsOnnxruntime)}×)`,
  );
  if (versusOrt) parts.push(`**Loss only, ns per logit (speed-up over onnxruntime-node with its default threads)**:\n\n${versusOrt}`);
  for (const mode of MODES) {
    const body = pairTable(results, mode.id, asyncPairs(results), (sync, async, shape) =>
      formatNumber(((async.medianNsPerElement - sync.medianNsPerElement) * shape.rows * shape.numClasses) / 1000),
    );
    if (body) parts.push(`**${mode.title}, fixed cost of an async call** (crossEntropyAsync time − crossEntropy time, µs per call):\n\n${body}`);
  }
  return parts.join('\n\n');
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
    add(
      `${mode.title}: speed-up over onnxruntime-node with its default threads (its time ÷ method time, higher is better)`,
      table(results, mode.id, (r) => (r.speedupVsOnnxruntime == null ? '—' : `${formatNumber(r.speedupVsOnnxruntime)}×`)),
    );
    add(
      `${mode.title}: 2 threads over 1 (1-thread time ÷ 2-thread time, same run; this machine has ${results.machine.cores} cores)`,
      pairTable(results, mode.id, threadPairs(results), (one, two) => `${formatNumber(one.medianNsPerElement / two.medianNsPerElement)}×`),
    );
    add(
      `${mode.title}: fixed cost of an async call (crossEntropyAsync time − crossEntropy time, µs per call)`,
      pairTable(results, mode.id, asyncPairs(results), (sync, async, shape) =>
        formatNumber(((async.medianNsPerElement - sync.medianNsPerElement) * shape.rows * shape.numClasses) / 1000),
      ),
    );
  }
  return parts.join('\n\n') + '\n';
}
