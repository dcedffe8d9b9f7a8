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
    add(
      `${mode.title}: speed-up over onnxruntime-node with its default threads (its time ÷ method time, higher is better)`,
      table(results, mode.id, (r) => (r.speedupVsOnnxruntime == null ? '—' : `${formatNumber(r.speedupVsOnnxruntime)}×`)),
    );
  }
  return parts.join('\n\n') + '\n';
}

/**
 * bench/threads.json (bench/threads.mjs) as markdown: per mode, ns per logit of every task by
 * shape, then the ratios (1 ÷ 2 threads, against onnxruntime-node) and an async call's fixed cost.
 */
export function threadsTables(results) {
  const shapes = [...new Set(results.results.map((r) => r.shape))];
  const find = (shape, mode, method, start = 'warm') => results.results.find((r) => r.shape === shape && r.mode === mode && r.method === method && (r.start ?? 'warm') === start);
  const header = `| | ${shapes.map((s) => s.replace('x', '×')).join(' | ')} |\n|---|${shapes.map(() => '---:').join('|')}|`;
  const m = results.machine;
  const parts = [
    `From \`${results.config.command}\` (backend ${results.runtime.backend}) on ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, ${m.date.slice(0, 10)}; ` +
      `load average ${m.loadAverageAtStart.join(' ')} at the start, ${(m.loadAverageAtEnd ?? []).join(' ')} at the end (threads need idle cores: a loaded machine shows less).`,
  ];
  for (const mode of [...new Set(results.results.map((r) => r.mode))]) {
    const methods = [...new Map(results.results.filter((r) => r.mode === mode && (r.start ?? 'warm') === 'warm').map((r) => [r.method, r.label])).entries()];
    const line = (label, cell) => `| ${label} | ${shapes.map((s) => cell(s) ?? '—').join(' | ')} |`;
    const ns = methods.map(([id, label]) => line(label, (s) => (find(s, mode, id) ? formatNumber(find(s, mode, id).nsPerElement) : undefined)));
    const ratio = (label, a, b) => line(label, (s) => (find(s, mode, a) && find(s, mode, b) ? `${formatNumber(find(s, mode, a).nsPerElement / find(s, mode, b).nsPerElement)}×` : undefined));
    const title = mode === 'loss' ? 'Loss only' : 'Loss + gradient';
    parts.push(`**${title}, ns per logit** (median; each sample follows one untimed call of its method, as in a loop):\n\n${header}\n${ns.join('\n')}`);
    parts.push(
      `**${title}, ratios** (time ÷ time):\n\n${header}\n` +
        [
          ratio('zero-copy batch: 1 thread ÷ 2 threads', 'batch-t1', 'batch-t2'),
          ratio('public API: 1 thread ÷ 2 threads', 'api-t1', 'api-t2'),
          ratio('onnxruntime-node (default threads) ÷ zero-copy batch, 2 threads', 'onnxruntime-node', 'batch-t2'),
          ratio('onnxruntime-node (default threads) ÷ public API, 2 threads', 'onnxruntime-node', 'api-t2'),
          ratio('onnxruntime-node, 1 thread ÷ public API, 1 thread', 'onnxruntime-node-1thread', 'api-t1'),
        ].join('\n'),
    );
    const asyncCost = (threads) => line(`crossEntropyAsync − crossEntropy, ${threads} thread${threads > 1 ? 's' : ''} (µs per call)`, (s) => {
      const a = find(s, mode, `async-t${threads}`);
      const b = find(s, mode, `api-t${threads}`);
      return a && b ? formatNumber((a.medianMs - b.medianMs) * 1000) : undefined;
    });
    if (results.results.some((r) => r.mode === mode && r.start === 'idle')) {
      const idle = (label, id) => line(label, (s) => (find(s, mode, id, 'idle') ? formatNumber(find(s, mode, id, 'idle').nsPerElement) : undefined));
      const idleRatio = (label, a, b) => line(label, (s) => (find(s, mode, a, 'idle') && find(s, mode, b, 'idle') ? `${formatNumber(find(s, mode, a, 'idle').nsPerElement / find(s, mode, b, 'idle').nsPerElement)}×` : undefined));
      parts.push(
        `**${title}, the first call after 100 ms idle** (ns per logit, median; the worker is asleep and must be woken):\n\n${header}\n` +
          [
            idle('zero-copy batch, 1 thread', 'batch-t1'),
            idle('zero-copy batch, 2 threads', 'batch-t2'),
            idle('public API, 1 thread', 'api-t1'),
            idle('public API, 2 threads', 'api-t2'),
            idleRatio('zero-copy batch: 1 thread ÷ 2 threads', 'batch-t1', 'batch-t2'),
            idleRatio('public API: 1 thread ÷ 2 threads', 'api-t1', 'api-t2'),
          ].join('\n'),
      );
    }
    if (results.results.some((r) => r.mode === mode && r.method.startsWith('async'))) {
      parts.push(`**${title}, fixed cost of an async call**:\n\n${header}\n${asyncCost(1)}\n${asyncCost(2)}`);
    }
  }
  return parts.join('\n\n') + '\n';
}
