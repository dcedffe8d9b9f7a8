#!/usr/bin/env node
/**
 * Draws bench/chart.svg from bench/results.json (every number comes from the file): a grouped
 * horizontal bar chart of ns per element, loss + gradient mode, one group per shape, one bar per
 * method, log-scale x axis. Hand-written SVG, no dependencies. Also prints the markdown tables
 * (the same function run.mjs uses), so the README can be refreshed without re-running.
 *
 *   npm run bench:chart                       # bench/results.json → bench/chart.svg
 *   node bench/chart.mjs [results.json] [out.svg] [--mode loss]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findResult, formatNumber, machineLine, markdownTables, MODES } from './report.mjs';

/** Fixed colour per method id, so charts of different runs compare at a glance. */
const COLORS = {
  'textbook-js': '#9e9e9e',
  'tfjs-cpu': '#d9a441',
  'tfjs-wasm': '#e0662b',
  'smoothxent-js': '#9ecae1',
  'smoothxent-wasm': '#6baed6',
  'smoothxent-wasm-simd': '#2b7bba',
  'smoothxent-wasm-relaxed-simd': '#08306b',
  'smoothxent-js-reused-grad': '#c6dbef',
  'smoothxent-wasm-simd-reused-grad': '#17becf',
  'smoothxent-batch-simd': '#41ab5d',
  'smoothxent-batch-relaxed': '#005a32',
  'onnxruntime-node': '#7b3294',
  'onnxruntime-node-1thread': '#c2a5cf',
  'smoothxent-wasm-relaxed-simd-reused-grad': '#0e8a96',
  'floor-exp-simd': '#bcbddc',
  'floor-exp-relaxed': '#807dba',
  'floor-memcpy': '#dadaeb',
};
const FALLBACK_COLORS = ['#e7298a', '#66a61e', '#a6761d', '#1b9e77'];

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const WIDTH = 1000;
const MARGIN = { left: 120, right: 70, top: 78 };
const BAR = 11;
const BAR_GAP = 2;
const GROUP_GAP = 16;

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { mode: { type: 'string', default: 'loss+grad' } },
});
const resultsPath = positionals[0] ?? fileURLToPath(new URL('results.json', import.meta.url));
const svgPath = positionals[1] ?? fileURLToPath(new URL('chart.svg', import.meta.url));

const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
writeFileSync(svgPath, renderChart(results, options.mode));
console.error(`wrote ${svgPath}`);
console.log(markdownTables(results));

function renderChart(results, mode) {
  const modeTitle = MODES.find((m) => m.id === mode)?.title ?? mode;
  // The 1×4 call-overhead baseline is per call, not per element: it stays in the tables only.
  const shapes = results.shapes.filter((s) => s.rows > 1);
  const groups = shapes.map((shape) => ({
    shape,
    bars: results.methods
      .map((method) => ({ method, result: findResult(results, shape.id, mode, method.id) }))
      .filter((bar) => bar.result),
  }));
  const methods = results.methods.filter((m) => groups.some((g) => g.bars.some((b) => b.method.id === m.id)));
  const values = groups.flatMap((g) => g.bars.map((b) => b.result.medianNsPerElement));
  if (!values.length) throw new Error(`no results for mode ${mode} in ${resultsPath}`);

  // log10 x scale over whole decades
  const lowDecade = Math.floor(Math.log10(Math.min(...values)));
  const highDecade = Math.ceil(Math.log10(Math.max(...values) * 1.0001));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const x = (value) => MARGIN.left + ((Math.log10(value) - lowDecade) / (highDecade - lowDecade)) * plotWidth;

  const out = [];
  let y = MARGIN.top;
  for (const group of groups) {
    const groupHeight = group.bars.length * (BAR + BAR_GAP) - BAR_GAP;
    out.push(
      `<text x="${MARGIN.left - 12}" y="${y + groupHeight / 2}" text-anchor="end" dominant-baseline="middle" font-size="14" font-weight="600">${escape(group.shape.label)}</text>`,
      `<text x="${MARGIN.left - 12}" y="${y + groupHeight / 2 + 16}" text-anchor="end" dominant-baseline="middle" font-size="10.5" fill="#666">N×K</text>`,
    );
    for (const { method, result } of group.bars) {
      const value = result.medianNsPerElement;
      const barEnd = x(value);
      const color = colorOf(method.id, results.methods);
      const isFloor = method.id.startsWith('floor');
      out.push(
        `<rect x="${MARGIN.left}" y="${y}" width="${Math.max(1, barEnd - MARGIN.left).toFixed(1)}" height="${BAR}" fill="${color}"` +
          (isFloor ? ` stroke="#555" stroke-width="0.8" stroke-dasharray="3 2"` : '') +
          `><title>${escape(`${method.label}, ${group.shape.label}: ${formatNumber(value)} ns/element`)}</title></rect>`,
        `<text x="${(barEnd + 4).toFixed(1)}" y="${y + BAR / 2}" dominant-baseline="middle" font-size="10" fill="#333">${formatNumber(value)}</text>`,
      );
      y += BAR + BAR_GAP;
    }
    y += GROUP_GAP - BAR_GAP;
  }
  const plotBottom = y - GROUP_GAP + 8;

  // grid and axis: a line per decade, light lines at 2× and 5×
  const grid = [];
  for (let decade = lowDecade; decade <= highDecade; decade++) {
    const value = 10 ** decade;
    grid.push(
      `<line x1="${x(value)}" x2="${x(value)}" y1="${MARGIN.top - 6}" y2="${plotBottom}" stroke="#c8c8c8"/>`,
      `<text x="${x(value)}" y="${plotBottom + 16}" text-anchor="middle" font-size="12">${formatTick(value)}</text>`,
    );
    if (decade < highDecade) {
      for (const minor of [2, 5]) {
        grid.push(`<line x1="${x(minor * value)}" x2="${x(minor * value)}" y1="${MARGIN.top - 6}" y2="${plotBottom}" stroke="#ececec"/>`);
      }
    }
  }
  grid.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top - 6}" y2="${plotBottom}" stroke="#333"/>`);
  grid.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="#333"/>`);
  const axisLabelY = plotBottom + 38;
  grid.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${axisLabelY}" text-anchor="middle" font-size="13">ns per element (one logit), median — log scale, lower is better</text>`,
  );

  // legend: as many columns as the longest label allows (≈ 6.2 px per character at 11.5 px)
  const legend = [];
  const legendLeft = 20;
  const longest = Math.max(...methods.map((m) => m.label.length));
  const columns = Math.max(1, Math.min(3, Math.floor((WIDTH - 2 * legendLeft) / (longest * 6.2 + 34))));
  const columnWidth = (WIDTH - 2 * legendLeft) / columns;
  const legendTop = axisLabelY + 22;
  methods.forEach((method, index) => {
    const lx = legendLeft + (index % columns) * columnWidth;
    const ly = legendTop + Math.floor(index / columns) * 20;
    const isFloor = method.id.startsWith('floor');
    legend.push(
      `<rect x="${lx}" y="${ly}" width="14" height="11" fill="${colorOf(method.id, results.methods)}"${isFloor ? ' stroke="#555" stroke-width="0.8" stroke-dasharray="3 2"' : ''}/>`,
      `<text x="${lx + 20}" y="${ly + 6}" dominant-baseline="middle" font-size="11.5">${escape(method.label)}</text>`,
    );
  });
  const height = legendTop + Math.ceil(methods.length / columns) * 20 + 12;

  const { smoothing, reduction } = results.config;
  const relaxed = results.runtime?.relaxedSimd;
  const subtitle =
    `${machineLine(results)}; ε = ${smoothing}, reduction '${reduction}'` +
    (relaxed ? `; relaxed SIMD ${relaxed.enabled ? 'on' : 'off'}` : '') +
    (results.config.quick ? '; QUICK RUN (smoke test, not for citing)' : '');
  const header = [
    `<text x="${MARGIN.left - 100}" y="28" font-size="19" font-weight="600">Label-smoothed softmax cross-entropy, ${escape(modeTitle.toLowerCase())}</text>`,
    `<text x="${MARGIN.left - 100}" y="50" font-size="12" fill="#555">${escape(subtitle)}</text>`,
  ];

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...header,
    ...grid,
    ...out,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function colorOf(methodId, methods) {
  if (COLORS[methodId]) return COLORS[methodId];
  const unknown = methods.filter((m) => !COLORS[m.id]).findIndex((m) => m.id === methodId);
  return FALLBACK_COLORS[unknown % FALLBACK_COLORS.length];
}

function formatTick(value) {
  return value >= 1 ? String(value) : value.toFixed(-Math.floor(Math.log10(value)));
}

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
