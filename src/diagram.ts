/**
 * A reliability diagram of an evaluation, as an SVG string: a pure function of the result
 * (no DOM), so it runs in Node (write it to a file, a report, a notebook) and in browsers
 * (insert it into a page) alike.
 *
 * Layout, top to bottom (all text 12 px, the title 14 px; one SVG unit is one pixel at the
 * given width and height):
 *   title (at most two lines)
 *   legend
 *   the reliability plot: x = confidence, y = accuracy, both [0, 1]; per non-empty bin a bar
 *     up to its accuracy, the gap between accuracy and mean confidence shaded (over-confident
 *     above the bar top, hatched; under-confident over the bar's top, dotted), the diagonal
 *     (perfect calibration) dashed
 *   the count histogram: rows per bin on the same x axis, its tallest bar the largest count
 *   the caption: ECE, MCE, ACE, N, accuracy and mean confidence
 *
 * Every text passes through escapeXml (markup in a title stays text), and the SVG is
 * role="img" with a <title> and a <desc> that says the same as the picture in words.
 */
import { checkKnownKeys, checkOptionsObject, describe } from './options.js';
import type { CalibrationBin, EvaluationResult } from './types.js';

/** Options of `reliabilityDiagram`. */
export interface ReliabilityDiagramOptions {
  /** Width in px (SVG units), in [240, 16384]; default 480. */
  width?: number;
  /** Height in px, in [240, 16384]; default 480 (it must leave room for the plot, see the README). */
  height?: number;
  /** Shown above the plot (at most two lines) and used as the SVG's <title>; '' shows none. Default 'Reliability diagram'. */
  title?: string;
}

const WHERE = 'reliabilityDiagram';
const KEYS = ['width', 'height', 'title'] as const;
const MIN_SIZE = 240;
const MAX_SIZE = 16384;
const DEFAULT_SIZE = 480;
const DEFAULT_TITLE = 'Reliability diagram';

const FONT = 12;
const TITLE_FONT = 14;
const LINE = 16;
const TITLE_LINE = 18;
const PAD = 12;
/** The plot's left margin (tick labels "0.2" and the rotated axis title) and right margin. */
const LEFT = 48;
const RIGHT = 14;
/** Below the histogram: tick labels, then the x axis title. */
const X_AXIS = 36;
/** Between the plot and the histogram. */
const GAP = 10;
/** The smallest plot worth drawing, and the histogram's share of plot + histogram (a fifth, at least 28 px). */
const MIN_PLOT = 90;
const MIN_HISTOGRAM = 28;

const COLORS = {
  ink: '#1d2430',
  muted: '#475467',
  grid: '#eef0f3',
  axis: '#98a2b3',
  bar: '#4263eb',
  over: '#e03131',
  under: '#0c8599',
  count: '#868e96',
};

/** Text as XML character data or attribute value: no markup passes, and characters XML 1.0 forbids become U+FFFD. */
export function escapeXml(text: string): string {
  return text
    // C0 controls other than tab, LF, CR; lone surrogates; U+FFFE and U+FFFF are not allowed in XML 1.0.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// ---------------------------------------------------------------------------------------------
// Validation, before any work: a TypeError for a wrong type, a RangeError for a value out of range.

interface Checked {
  result: EvaluationResult;
  width: number;
  height: number;
  title: string;
}

function field(owner: Record<string, unknown>, key: string, name: string): number {
  const value = owner[key];
  if (typeof value !== 'number') throw new TypeError(`${WHERE}: ${name}.${key} must be a number, got ${describe(value)}`);
  return value;
}

function checkBin(bin: unknown, b: number): CalibrationBin {
  const name = `result.bins[${b}]`;
  if (typeof bin !== 'object' || bin === null) throw new TypeError(`${WHERE}: ${name} must be a bin { lo, hi, count, meanConfidence, accuracy }, got ${describe(bin)}`);
  const record = bin as Record<string, unknown>;
  const [lo, hi, count, meanConfidence, accuracy] = ['lo', 'hi', 'count', 'meanConfidence', 'accuracy'].map((key) => field(record, key, name));
  if (!(lo >= 0 && lo < hi && hi <= 1)) throw new RangeError(`${WHERE}: ${name} must have 0 ≤ lo < hi ≤ 1, got lo ${describe(lo)}, hi ${describe(hi)}`);
  if (!(Number.isInteger(count) && count >= 0)) throw new RangeError(`${WHERE}: ${name}.count must be an integer ≥ 0, got ${describe(count)}`);
  return { lo, hi, count, meanConfidence, accuracy };
}

function checkInput(result: unknown, options: unknown): Checked {
  const what = 'an EvaluationResult (from evaluate or evaluator.result())';
  if (typeof result !== 'object' || result === null || Array.isArray(result)) throw new TypeError(`${WHERE}: result must be ${what}, got ${describe(result)}`);
  const record = result as Record<string, unknown>;
  for (const key of ['count', 'accuracy', 'meanConfidence', 'ece', 'mce', 'ace']) field(record, key, 'result');
  const bins = record.bins;
  if (!Array.isArray(bins)) throw new TypeError(`${WHERE}: result.bins must be an array of bins, got ${describe(bins)}`);
  if (bins.length === 0) throw new RangeError(`${WHERE}: result.bins must hold at least one bin, got an empty array`);
  const checkedBins = bins.map(checkBin);

  const given = options === undefined ? {} : options;
  checkOptionsObject(given, WHERE);
  checkKnownKeys(given, KEYS, WHERE);
  const size = (name: string): number => {
    const value = given[name];
    if (value === undefined) return DEFAULT_SIZE;
    if (typeof value !== 'number') throw new TypeError(`${WHERE}: ${name} must be a number (px), got ${describe(value)}`);
    if (!(value >= MIN_SIZE && value <= MAX_SIZE)) throw new RangeError(`${WHERE}: ${name} must be in [${MIN_SIZE}, ${MAX_SIZE}] (px), got ${describe(value)}`);
    return value;
  };
  const width = size('width');
  const height = size('height');
  const title = given.title === undefined ? DEFAULT_TITLE : given.title;
  if (typeof title !== 'string') throw new TypeError(`${WHERE}: title must be a string, got ${describe(title)}`);
  return { result: { ...(result as EvaluationResult), bins: checkedBins }, width, height, title };
}

// ---------------------------------------------------------------------------------------------
// Text layout without a DOM: widths estimated from the font size (0.6 em per character is at
// or above the average advance of system sans-serif fonts at 12–14 px), lines broken at spaces.

const textWidth = (text: string, font: number) => 0.6 * font * [...text].length;

/** Words into lines of at most `maxWidth`; beyond `maxLines` the last line ends in '…'. */
function wrap(text: string, maxWidth: number, font: number, maxLines = Infinity): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (line && textWidth(candidate, font) > maxWidth) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line) lines.push(line);
  const fitted = lines.map((l) => clip(l, maxWidth, font));
  if (fitted.length <= maxLines) return fitted;
  const kept = fitted.slice(0, maxLines);
  kept[maxLines - 1] = clip(`${kept[maxLines - 1]} ${fitted[maxLines]}`, maxWidth, font, true);
  return kept;
}

/** A line cut to `maxWidth`, with '…' when cut (or when `more` says text follows). */
function clip(text: string, maxWidth: number, font: number, more = false): string {
  const chars = [...text];
  const fits = Math.floor(maxWidth / (0.6 * font));
  if (chars.length <= fits && !more) return text;
  return chars.slice(0, Math.max(1, Math.min(chars.length, fits) - 1)).join('') + '…';
}

/** Items (each with its width) placed left to right into rows of at most `maxWidth`. */
function flow<T extends { width: number }>(items: T[], maxWidth: number, spacing: number): { item: T; x: number; row: number }[] {
  const placed: { item: T; x: number; row: number }[] = [];
  let x = 0;
  let row = 0;
  for (const item of items) {
    if (x > 0 && x + item.width > maxWidth) {
      row++;
      x = 0;
    }
    placed.push({ item, x, row });
    x += item.width + spacing;
  }
  return placed;
}

// ---------------------------------------------------------------------------------------------
// Drawing

const fmt = (x: number) => (Math.round(x * 100) / 100).toString();
/** Counts on the histogram's axis: 4000, 12k, 1.2M. */
const compactCount = (n: number) => (n < 1e5 ? String(n) : n < 1e6 ? `${Math.round(n / 1e3)}k` : `${(n / 1e6).toPrecision(2)}M`);
const metric = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : Number.isNaN(x) ? 'NaN' : x > 0 ? '∞' : '−∞');

function attributes(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([name, value]) => ` ${name}="${typeof value === 'number' ? fmt(value) : escapeXml(value)}"`)
    .join('');
}

const element = (tag: string, values: Record<string, string | number>, content?: string) =>
  content === undefined ? `<${tag}${attributes(values)}/>` : `<${tag}${attributes(values)}>${content}</${tag}>`;

const text = (x: number, y: number, content: string, extra: Record<string, string | number> = {}) =>
  element('text', { x, y, ...extra }, escapeXml(content));

/** A short id prefix from the content (FNV-1a), so that two diagrams in one page do not share ids unless they are identical. */
function idPrefix(seed: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 0x01000193);
  return `rd${(hash >>> 0).toString(36)}`;
}

/** Whether bin b is over-confident (mean confidence above accuracy), under-confident, or neither. */
function direction(bin: CalibrationBin): 'over' | 'under' | null {
  if (!(bin.count > 0) || !Number.isFinite(bin.accuracy) || !Number.isFinite(bin.meanConfidence)) return null;
  return bin.meanConfidence > bin.accuracy ? 'over' : bin.meanConfidence < bin.accuracy ? 'under' : null;
}

/**
 * The reliability diagram of an evaluation (`xent.evaluate` or `evaluator.result()`) as a
 * standalone SVG document string.
 */
export function reliabilityDiagram(result: EvaluationResult, options?: ReliabilityDiagramOptions): string {
  const { result: r, width, height, title } = checkInput(result, options);
  const bins = r.bins;
  const inner = width - 2 * PAD;
  const id = idPrefix(JSON.stringify([r, width, height, title]));

  // Title and legend at the top, caption at the bottom: their heights set the plot's.
  const titleLines = title ? wrap(title, inner, TITLE_FONT, 2) : [];
  const legendItems = [
    { key: 'bar', label: 'accuracy' },
    { key: 'over', label: 'over-confident' },
    { key: 'under', label: 'under-confident' },
    { key: 'diagonal', label: 'perfect calibration' },
  ].map((item) => ({ ...item, width: 18 + textWidth(item.label, FONT) }));
  const legend = flow(legendItems, inner, 14);
  const legendRows = legend[legend.length - 1].row + 1;
  const empty = !(r.count > 0);
  const captionItems = empty
    ? [`N = 0: no rows were counted, so there is nothing to calibrate (${bins.length} bins)`]
    : [`ECE ${metric(r.ece)}`, `MCE ${metric(r.mce)}`, `ACE ${metric(r.ace)}`, `N = ${r.count}`, `accuracy ${metric(r.accuracy)}`, `mean confidence ${metric(r.meanConfidence)}`];
  const captionLines = empty
    ? wrap(captionItems[0], inner, FONT)
    : flow(captionItems.map((label) => ({ label, width: textWidth(label, FONT) })), inner, textWidth(' · ', FONT))
        .reduce<string[]>((lines, { item, row }) => {
          lines[row] = lines[row] ? `${lines[row]} · ${item.label}` : item.label;
          return lines;
        }, []);

  const top = PAD + titleLines.length * TITLE_LINE + legendRows * LINE + 8;
  const bottom = height - PAD - captionLines.length * LINE - 4;
  const chartsHeight = bottom - top - X_AXIS - GAP;
  // At chartsHeight ≥ MIN_PLOT + MIN_HISTOGRAM the plot gets at least MIN_PLOT either way.
  if (chartsHeight < MIN_PLOT + MIN_HISTOGRAM) {
    const needed = Math.ceil(height + MIN_PLOT + MIN_HISTOGRAM - chartsHeight);
    throw new RangeError(`${WHERE}: height must leave ${MIN_PLOT} px for the plot under the title, legend and caption: at least ${needed} for width ${width} and this title, got ${height}`);
  }
  const histogramHeight = Math.max(MIN_HISTOGRAM, Math.round(chartsHeight / 5));
  const plotHeight = chartsHeight - histogramHeight;
  const plot = { x: PAD + LEFT, y: top, width: width - PAD - RIGHT - (PAD + LEFT), height: plotHeight };
  const histogram = { x: plot.x, y: plot.y + plot.height + GAP, width: plot.width, height: histogramHeight };
  const xOf = (c: number) => plot.x + c * plot.width;
  const yOf = (a: number) => plot.y + plot.height * (1 - a);

  const parts: string[] = [];
  const over = `${id}-over`;
  const under = `${id}-under`;
  parts.push(
    '<defs>' +
      `<pattern id="${over}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      element('rect', { width: 6, height: 6, fill: COLORS.over, 'fill-opacity': 0.22 }) +
      element('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: COLORS.over, 'stroke-width': 2.5 }) +
      '</pattern>' +
      `<pattern id="${under}" width="5" height="5" patternUnits="userSpaceOnUse">` +
      element('rect', { width: 5, height: 5, fill: COLORS.under, 'fill-opacity': 0.3 }) +
      element('circle', { cx: 2.5, cy: 2.5, r: 1.3, fill: COLORS.under }) +
      '</pattern>' +
      '</defs>',
  );
  parts.push(element('rect', { width, height, fill: '#ffffff' }));

  // Title and legend.
  titleLines.forEach((line, i) => parts.push(text(PAD, PAD + TITLE_FONT + i * TITLE_LINE, line, { class: 'title', 'font-size': TITLE_FONT, 'font-weight': 600, fill: COLORS.ink })));
  const legendTop = PAD + titleLines.length * TITLE_LINE;
  const swatches: Record<string, string> = {
    bar: element('rect', { width: 12, height: 10, fill: COLORS.bar }),
    over: element('rect', { width: 12, height: 10, fill: `url(#${over})`, stroke: COLORS.over }),
    under: element('rect', { width: 12, height: 10, fill: `url(#${under})`, stroke: COLORS.under }),
    diagonal: element('line', { x1: 0, y1: 9, x2: 12, y2: 1, stroke: COLORS.muted, 'stroke-dasharray': '3 2', 'stroke-width': 1.5 }),
  };
  for (const { item, x, row } of legend) {
    const y = legendTop + row * LINE;
    parts.push(`<g class="legend" transform="translate(${fmt(PAD + x)} ${fmt(y + 3)})">${swatches[item.key]}${text(18, 10, item.label, { fill: COLORS.muted })}</g>`);
  }

  // Frames, grid and ticks.
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  parts.push(element('rect', { class: 'plot-area', x: plot.x, y: plot.y, width: plot.width, height: plot.height, fill: 'none', stroke: COLORS.axis }));
  parts.push(element('rect', { class: 'histogram-area', x: histogram.x, y: histogram.y, width: histogram.width, height: histogram.height, fill: 'none', stroke: COLORS.axis }));
  for (const t of ticks) {
    if (t > 0 && t < 1) {
      parts.push(element('line', { x1: plot.x, x2: plot.x + plot.width, y1: yOf(t), y2: yOf(t), stroke: COLORS.grid }));
      parts.push(element('line', { x1: xOf(t), x2: xOf(t), y1: plot.y, y2: plot.y + plot.height, stroke: COLORS.grid }));
    }
    parts.push(text(plot.x - 6, yOf(t) + 4, String(t), { 'text-anchor': 'end', fill: COLORS.muted }));
    parts.push(text(xOf(t), histogram.y + histogram.height + 15, String(t), { 'text-anchor': 'middle', fill: COLORS.muted }));
  }
  const middle = plot.y + plot.height / 2;
  parts.push(text(PAD + 10, middle, 'accuracy', { 'text-anchor': 'middle', transform: `rotate(-90 ${fmt(PAD + 10)} ${fmt(middle)})`, fill: COLORS.muted }));
  const maxCount = Math.max(0, ...bins.map((bin) => bin.count));
  if (maxCount > 0) parts.push(text(plot.x - 6, histogram.y + 10, compactCount(maxCount), { 'text-anchor': 'end', fill: COLORS.muted, class: 'count-max' }));
  parts.push(text(plot.x - 6, histogram.y + histogram.height, 'rows', { 'text-anchor': 'end', fill: COLORS.muted }));
  parts.push(text(plot.x + plot.width / 2, histogram.y + histogram.height + X_AXIS - 4, 'confidence (top-1 probability)', { 'text-anchor': 'middle', fill: COLORS.muted }));

  // The bins: accuracy bars, gaps, counts.
  const bars: string[] = [];
  const gaps: string[] = [];
  const counts: string[] = [];
  bins.forEach((bin, b) => {
    if (!(bin.count > 0)) return;
    const x0 = xOf(bin.lo);
    const binWidth = xOf(bin.hi) - x0;
    const inset = binWidth > 6 ? 1 : 0;
    const x = x0 + inset;
    const w = binWidth - 2 * inset;
    const range = `(${bin.lo.toFixed(2)}, ${bin.hi.toFixed(2)}]`;
    const about = `bin ${range}: ${bin.count} rows, accuracy ${metric(bin.accuracy)}, mean confidence ${metric(bin.meanConfidence)}`;
    const data = { 'data-bin': String(b), 'data-count': String(bin.count), 'data-accuracy': String(bin.accuracy), 'data-confidence': String(bin.meanConfidence) };
    if (Number.isFinite(bin.accuracy)) {
      bars.push(element('rect', { class: 'accuracy-bar', ...data, x, y: yOf(bin.accuracy), width: w, height: plot.height * bin.accuracy, fill: COLORS.bar, 'fill-opacity': 0.85 }, `<title>${escapeXml(about)}</title>`));
    }
    const side = direction(bin);
    if (side) {
      const high = Math.max(bin.accuracy, bin.meanConfidence);
      const low = Math.min(bin.accuracy, bin.meanConfidence);
      const color = side === 'over' ? COLORS.over : COLORS.under;
      gaps.push(element('rect', {
        class: `gap ${side}`, ...data, x, y: yOf(high), width: w, height: plot.height * (high - low),
        fill: `url(#${side === 'over' ? over : under})`, stroke: color, 'stroke-width': 1,
      }, `<title>${escapeXml(`${about}: ${side}-confident by ${metric(high - low)}`)}</title>`));
    }
    const h = maxCount > 0 ? (histogram.height * bin.count) / maxCount : 0;
    counts.push(element('rect', { class: 'count-bar', ...data, x, y: histogram.y + histogram.height - h, width: w, height: h, fill: COLORS.count }, `<title>${escapeXml(about)}</title>`));
  });
  parts.push(`<g class="bars">${bars.join('')}</g>`, `<g class="gaps">${gaps.join('')}</g>`, `<g class="counts">${counts.join('')}</g>`);
  parts.push(element('line', { class: 'diagonal', x1: xOf(0), y1: yOf(0), x2: xOf(1), y2: yOf(1), stroke: COLORS.muted, 'stroke-width': 1.5, 'stroke-dasharray': '5 4' }));
  // (Above the diagonal's left half, where no line runs.)
  if (empty) parts.push(text(plot.x + 8, plot.y + 20, 'no rows counted', { fill: COLORS.muted, class: 'empty' }));

  // Caption.
  captionLines.forEach((line, i) => parts.push(text(PAD, bottom + 4 + FONT + i * LINE, line, { class: 'caption', fill: COLORS.ink })));

  const overBins = bins.filter((bin) => direction(bin) === 'over').length;
  const underBins = bins.filter((bin) => direction(bin) === 'under').length;
  const summary = empty
    ? `No rows were counted: an empty reliability diagram of ${bins.length} bins.`
    : `Accuracy against confidence in ${bins.length} equal-width bins for ${r.count} rows: ECE ${metric(r.ece)}, MCE ${metric(r.mce)}, ACE ${metric(r.ace)}; ` +
      `accuracy ${metric(r.accuracy)}, mean confidence ${metric(r.meanConfidence)}; over-confident in ${overBins} bins, under-confident in ${underBins}.`;
  const accessibleTitle = title || DEFAULT_TITLE;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg"${attributes({ width, height, viewBox: `0 0 ${fmt(width)} ${fmt(height)}` })} role="img" aria-labelledby="${id}-title ${id}-desc"` +
    `${attributes({ 'data-ece': String(r.ece), 'data-mce': String(r.mce), 'data-ace': String(r.ace), 'data-count': String(r.count) })}` +
    ` font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="${FONT}">` +
    `<title id="${id}-title">${escapeXml(accessibleTitle)}</title><desc id="${id}-desc">${escapeXml(summary)}</desc>` +
    parts.join('') +
    '</svg>'
  );
}
