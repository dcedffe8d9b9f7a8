/**
 * reliabilityDiagram: the SVG string is parsed (test/xml.ts, strict: a parse is a
 * well-formedness check) and its geometry checked against the evaluation it draws, for
 * results from every backend and from the float64 reference: one accuracy bar per non-empty
 * bin, standing on the plot's floor at the height of its accuracy; one gap per miscalibrated
 * bin between accuracy and mean confidence, marked over or under; count bars in proportion
 * to the counts; the caption's ECE, MCE and ACE those of the result. Then escaping, count 0,
 * NaN, accessibility, and bad input named before any work.
 */
import { describe, expect, it } from 'vitest';
import { reliabilityDiagram, type EvaluationResult } from '../src/index.js';
import { createAllBackends } from './backends.js';
import { referenceEvaluate } from './eval-reference.js';
import { makeRandom } from './generators.js';
import { allElements, numberOf, parseXml, select, type XmlElement } from './xml.js';

const xents = await createAllBackends();

/** A classifier's logits: noise plus a signal on the label that makes it right ~half the time. */
function classifier(seed: number, rows: number, K: number) {
  const random = makeRandom(seed);
  const logits = new Float32Array(rows * K);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    labels[r] = Math.floor(random() * K);
    for (let k = 0; k < K; k++) logits[r * K + k] = 6 * (random() - 0.5) + (k === labels[r] ? 2.5 * random() : 0);
  }
  return { logits, labels };
}

const box = (element: XmlElement) => ({ x: numberOf(element, 'x'), y: numberOf(element, 'y'), width: numberOf(element, 'width'), height: numberOf(element, 'height') });
/** Coordinates are written with two decimals. */
const ROUNDING = 0.011;

function expectGeometry(svg: string, result: EvaluationResult): void {
  const root = parseXml(svg);
  const [plotArea] = select(root, 'rect', 'plot-area');
  const [histogramArea] = select(root, 'rect', 'histogram-area');
  const plot = box(plotArea);
  const histogram = box(histogramArea);
  const floor = plot.y + plot.height;
  const nonEmpty = result.bins.map((bin, b) => ({ bin, b })).filter(({ bin }) => bin.count > 0);

  const bars = select(root, 'rect', 'accuracy-bar');
  expect(bars.map((bar) => Number(bar.attributes['data-bin']))).toEqual(nonEmpty.map(({ b }) => b));
  bars.forEach((bar, i) => {
    const { bin } = nonEmpty[i];
    const { x, y, width, height } = box(bar);
    expect(Math.abs(y + height - floor), `bar ${i} stands on the floor`).toBeLessThanOrEqual(2 * ROUNDING);
    expect(Math.abs(height - bin.accuracy * plot.height), `bar ${i} height`).toBeLessThanOrEqual(ROUNDING);
    // Inside its bin's x range (an inset of at most 1 px each side).
    const lo = plot.x + bin.lo * plot.width;
    const hi = plot.x + bin.hi * plot.width;
    expect(x).toBeGreaterThanOrEqual(lo - ROUNDING);
    expect(x).toBeLessThanOrEqual(lo + 1 + ROUNDING);
    expect(x + width).toBeLessThanOrEqual(hi + 2 * ROUNDING);
    expect(x + width).toBeGreaterThanOrEqual(hi - 1 - 2 * ROUNDING);
    expect(Number(bar.attributes['data-accuracy'])).toBe(bin.accuracy);
  });

  const gaps = select(root, 'rect', 'gap');
  const miscalibrated = nonEmpty.filter(({ bin }) => bin.meanConfidence !== bin.accuracy);
  expect(gaps.map((gap) => Number(gap.attributes['data-bin']))).toEqual(miscalibrated.map(({ b }) => b));
  gaps.forEach((gap, i) => {
    const { bin } = miscalibrated[i];
    const side = bin.meanConfidence > bin.accuracy ? 'over' : 'under';
    expect(gap.attributes.class).toBe(`gap ${side}`);
    const { y, height } = box(gap);
    const high = Math.max(bin.accuracy, bin.meanConfidence);
    expect(Math.abs(y - (plot.y + (1 - high) * plot.height))).toBeLessThanOrEqual(ROUNDING);
    expect(Math.abs(height - Math.abs(bin.accuracy - bin.meanConfidence) * plot.height)).toBeLessThanOrEqual(ROUNDING);
    // Over- and under-confidence are told apart by the fill too, not only by position.
    expect(gap.attributes.fill).toMatch(new RegExp(`^url\\(#rd\\w+-${side}\\)$`));
  });

  const counts = select(root, 'rect', 'count-bar');
  expect(counts.map((bar) => Number(bar.attributes['data-bin']))).toEqual(nonEmpty.map(({ b }) => b));
  const maxCount = Math.max(...result.bins.map((bin) => bin.count));
  counts.forEach((bar, i) => {
    const { y, height } = box(bar);
    expect(Math.abs(height - (histogram.height * nonEmpty[i].bin.count) / maxCount)).toBeLessThanOrEqual(ROUNDING);
    expect(Math.abs(y + height - (histogram.y + histogram.height))).toBeLessThanOrEqual(2 * ROUNDING);
  });

  const caption = select(root, 'text', 'caption').map((t) => t.text).join(' ');
  expect(caption).toContain(`ECE ${result.ece.toFixed(4)}`);
  expect(caption).toContain(`MCE ${result.mce.toFixed(4)}`);
  expect(caption).toContain(`ACE ${result.ace.toFixed(4)}`);
  expect(caption).toContain(`N = ${result.count}`);
  expect(root.attributes['data-ece']).toBe(String(result.ece));
  expect(root.attributes['data-count']).toBe(String(result.count));
}

describe.each(xents.map((xent) => ({ backend: xent.backend, xent })))('reliabilityDiagram of an evaluation on $backend', ({ xent }) => {
  it('draws one bar per non-empty bin at its accuracy, the gaps, the counts and the ECE', () => {
    const { logits, labels } = classifier(1, 3000, 10);
    const result = xent.evaluate(logits, labels, { numClasses: 10 });
    // The data has empty bins (no confidence below 1/K) and both kinds of gap.
    expect(result.bins.some((bin) => bin.count === 0)).toBe(true);
    const svg = reliabilityDiagram(result);
    expectGeometry(svg, result);
    const root = parseXml(svg);
    expect(select(root, 'rect', 'gap', 'over').length).toBeGreaterThan(0);
    for (const size of [{ width: 240, height: 360 }, { width: 900, height: 600 }]) expectGeometry(reliabilityDiagram(result, size), result);
  });

  it("the seed's anchor: one row, right at confidence 0.6, in 4 bins", () => {
    const result = xent.evaluate(Float32Array.from([0.1, 0.2, 0.6, 0.1], Math.log), [2], { numClasses: 4, bins: 4 });
    const svg = reliabilityDiagram(result, { title: 'p = [0.1, 0.2, 0.6, 0.1], rainy' });
    expectGeometry(svg, result);
    const root = parseXml(svg);
    const [bar] = select(root, 'rect', 'accuracy-bar');
    expect(bar.attributes['data-bin']).toBe('2');
    const [gap] = select(root, 'rect', 'gap');
    expect(gap.attributes.class).toBe('gap under'); // accuracy 1 > confidence 0.6
    expect(select(root, 'text', 'caption').map((t) => t.text).join(' ')).toContain('ECE 0.4000');
  });
});

describe('reliabilityDiagram', () => {
  const { logits, labels } = classifier(2, 2000, 5);
  const reference = referenceEvaluate(logits, labels, { numClasses: 5, bins: 12 });

  it('draws the float64 reference evaluation too (any EvaluationResult)', () => {
    expectGeometry(reliabilityDiagram(reference, { width: 520, height: 500 }), reference);
  });

  it('is accessible: role="img", a <title> and a <desc> that name it, and no text under 10 px', () => {
    const root = parseXml(reliabilityDiagram(reference, { title: 'Validation set' }));
    expect(root.name).toBe('svg');
    expect(root.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(root.attributes.role).toBe('img');
    const [title, desc] = root.children;
    expect(title.name).toBe('title');
    expect(title.text).toBe('Validation set');
    expect(desc.name).toBe('desc');
    expect(desc.text).toContain(`ECE ${reference.ece.toFixed(4)}`);
    expect(root.attributes['aria-labelledby']).toBe(`${title.attributes.id} ${desc.attributes.id}`);
    const rootSize = Number(root.attributes['font-size']);
    for (const text of select(root, 'text')) {
      const size = text.attributes['font-size'] === undefined ? rootSize : Number(text.attributes['font-size']);
      expect(size, text.text).toBeGreaterThanOrEqual(10);
    }
    // The visible title too, and every bar carries its numbers as a tooltip.
    expect(select(root, 'text', 'title')[0].text).toBe('Validation set');
    for (const bar of select(root, 'rect', 'accuracy-bar')) expect(bar.children[0]?.text).toMatch(/^bin \(0\.\d\d, [01]\.\d\d\]: \d+ rows, accuracy/);
  });

  it('escapes the title and keeps it text: no markup injection, no forbidden characters', () => {
    const title = `<script>alert("x")</script> & 'q' ]]> \u0001\uD800 "a"`;
    const svg = reliabilityDiagram(reference, { title });
    expect(svg).not.toContain('<script');
    expect(svg).not.toMatch(/[\u0000-\u0008]/);
    const root = parseXml(svg); // throws on a raw '<' or '&' or a forbidden character
    expect(allElements(root).some((element) => element.name === 'script')).toBe(false);
    expect(root.children[0].text).toBe(`<script>alert("x")</script> & 'q' ]]> \uFFFD\uFFFD "a"`);
    const shown = select(root, 'text', 'title').map((t) => t.text).join(' ');
    expect(shown.startsWith('<script>alert("x")</script>')).toBe(true);
  });

  it('shows a long title on at most two lines, ending in …, and an empty title not at all', () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const root = parseXml(reliabilityDiagram(reference, { title: long, width: 300, height: 420 }));
    const lines = select(root, 'text', 'title');
    expect(lines.length).toBe(2);
    expect(lines[1].text.endsWith('…')).toBe(true);
    expect(root.children[0].text).toBe(long);
    const untitled = parseXml(reliabilityDiagram(reference, { title: '' }));
    expect(select(untitled, 'text', 'title')).toEqual([]);
    expect(untitled.children[0].text).toBe('Reliability diagram');
  });

  it('count 0: no bars, and the caption says nothing was counted', async () => {
    const [xent] = xents;
    const nothing = xent.evaluate(new Float32Array(8), [-100, -100], { numClasses: 4 });
    expect(nothing.count).toBe(0);
    const svg = reliabilityDiagram(nothing);
    const root = parseXml(svg);
    for (const kind of ['accuracy-bar', 'gap', 'count-bar']) expect(select(root, 'rect', kind)).toEqual([]);
    expect(select(root, 'text', 'empty')[0].text).toBe('no rows counted');
    expect(select(root, 'text', 'caption').map((t) => t.text).join(' ')).toMatch(/^N = 0: no rows were counted/);
    expect(select(root, 'line', 'diagonal').length).toBe(1);
  });

  it('NaN logits: NaN metrics in the caption, the finite bins drawn', () => {
    const [xent] = xents;
    const { logits: z, labels: y } = classifier(3, 200, 4);
    z[5] = NaN;
    const result = xent.evaluate(z, y, { numClasses: 4 });
    expect(result.ece).toBeNaN();
    const root = parseXml(reliabilityDiagram(result));
    expect(select(root, 'text', 'caption').map((t) => t.text).join(' ')).toContain('ECE NaN');
    expect(select(root, 'rect', 'accuracy-bar').length).toBeGreaterThan(0);
    for (const rect of select(root, 'rect')) for (const key of ['x', 'y', 'width', 'height']) if (key in rect.attributes) expect(Number.isFinite(numberOf(rect, key))).toBe(true);
  });

  it('is a pure function: the same string for the same input, and the input untouched', () => {
    const before = JSON.stringify(reference);
    const a = reliabilityDiagram(reference, { width: 400, height: 400 });
    expect(reliabilityDiagram(reference, { width: 400, height: 400 })).toBe(a);
    expect(JSON.stringify(reference)).toBe(before);
    // Two different diagrams get different ids (two in one page do not share patterns).
    const b = reliabilityDiagram(reference, { width: 401, height: 400 });
    expect(parseXml(a).children[0].attributes.id).not.toBe(parseXml(b).children[0].attributes.id);
  });

  it('names bad input: TypeError for a wrong type, RangeError for a value out of range', () => {
    const cases: [unknown, unknown, typeof TypeError | typeof RangeError, string][] = [
      [reference, { width: 100 }, RangeError, 'reliabilityDiagram: width must be in [240, 16384] (px), got 100'],
      [reference, { width: '480' }, TypeError, 'reliabilityDiagram: width must be a number (px), got "480"'],
      [reference, { height: NaN }, RangeError, 'reliabilityDiagram: height must be in [240, 16384] (px), got NaN'],
      [reference, { height: Infinity }, RangeError, 'reliabilityDiagram: height must be in [240, 16384] (px), got Infinity'],
      [reference, { title: 5 }, TypeError, 'reliabilityDiagram: title must be a string, got 5'],
      [reference, { titel: 'x' }, TypeError, 'reliabilityDiagram: unknown option "titel" (known: width, height, title)'],
      [reference, 'wide', TypeError, 'reliabilityDiagram: options must be an object, got "wide"'],
      [null, undefined, TypeError, 'reliabilityDiagram: result must be an EvaluationResult (from evaluate or evaluator.result()), got null'],
      [{ ...reference, bins: undefined }, undefined, TypeError, 'reliabilityDiagram: result.bins must be an array of bins, got undefined'],
      [{ ...reference, bins: [] }, undefined, RangeError, 'reliabilityDiagram: result.bins must hold at least one bin, got an empty array'],
      [{ ...reference, ece: '0.1' }, undefined, TypeError, 'reliabilityDiagram: result.ece must be a number, got "0.1"'],
      [{ ...reference, bins: [{ ...reference.bins[0], count: -1 }] }, undefined, RangeError, 'reliabilityDiagram: result.bins[0].count must be an integer ≥ 0, got -1'],
      [{ ...reference, bins: [{ ...reference.bins[0], hi: 1.5 }] }, undefined, RangeError, 'reliabilityDiagram: result.bins[0] must have 0 ≤ lo < hi ≤ 1, got lo 0, hi 1.5'],
      [{ ...reference, bins: [null] }, undefined, TypeError, 'reliabilityDiagram: result.bins[0] must be a bin { lo, hi, count, meanConfidence, accuracy }, got null'],
    ];
    for (const [result, options, ErrorClass, message] of cases) {
      expect(() => reliabilityDiagram(result as EvaluationResult, options as object)).toThrow(ErrorClass);
      expect(() => reliabilityDiagram(result as EvaluationResult, options as object)).toThrow(message);
    }
    // A height that leaves no room for the plot names the height it needs.
    const tooSmall = () => reliabilityDiagram(reference, { width: 240, height: 240, title: 'a title long enough to take two lines here' });
    expect(tooSmall).toThrow(RangeError);
    expect(tooSmall).toThrow(/^reliabilityDiagram: height must leave 90 px for the plot under the title, legend and caption: at least \d+ for width 240 and this title, got 240$/);
    const needed = Number(/at least (\d+)/.exec((() => { try { tooSmall(); } catch (e) { return (e as Error).message; } return ''; })())![1]);
    expect(() => reliabilityDiagram(reference, { width: 240, height: needed, title: 'a title long enough to take two lines here' })).not.toThrow();
    expect(() => reliabilityDiagram(reference, { width: 240, height: needed - 1, title: 'a title long enough to take two lines here' })).toThrow(RangeError);
  });
});
