/**
 * The browser half, for real: headless Chromium (playwright-core) against pages served on
 * 127.0.0.1 by this file.
 *
 * 1. An API page (test/browser/api-entry.ts + src/, bundled by esbuild for the browser): the
 *    backend choice, the seed's anchor on every backend, a 512 × 32000 batch against the js
 *    backend, and bad input throwing exactly Node's errors.
 * 2. The demo page (web/, built by the same code as `npm run build:web`): the displayed numbers
 *    follow the ε slider and the probability inputs, the charts are drawn from data, the
 *    calibration section's diagrams, ECE and temperature follow its ε slider with the values
 *    the library computes in Node, the benchmark runs; a screenshot goes to
 *    test-output/web-page.png.
 *
 * Chromium missing is a failure with instructions (see browser/chromium.ts), not a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildWebPage, repoRoot, serveDirectory } from '../scripts/web-lib.mjs';
import { SWEEP_SMOOTHINGS } from '../web/calibration-sweep.js';
import { WEATHER, studyCalibration, weatherData, type CalibrationStudy } from '../src/calibration-demo.js';
import * as lib from '../src/index.js';
import type { BrowserTestApi } from './browser/api-entry.js';
import { ANCHOR_LABEL, ANCHOR_PROBS, classifierBatch, errorCases } from './browser/cases.js';
import { launchChromium, openPage, pageCaller } from './browser/chromium.js';

const SLOW = 120_000;
const outputDir = join(repoRoot, 'test-output');

let workDir: string;
let server: { url: string; close(): Promise<void> };
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
  workDir = await mkdtemp(join(tmpdir(), 'smoothxent-browser-'));
  const apiDir = join(workDir, 'api');
  await mkdir(apiDir, { recursive: true });
  await copyFile(join(repoRoot, 'test/browser/api.html'), join(apiDir, 'index.html'));
  await build({
    entryPoints: [join(repoRoot, 'test/browser/api-entry.ts')],
    outfile: join(apiDir, 'api.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  });
  await buildWebPage({ outdir: join(workDir, 'web') });
  server = await serveDirectory(workDir);
}, SLOW);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('the library in Chromium', () => {
  let page: Page;
  let errors: string[];
  const call = pageCaller<BrowserTestApi>(() => page, 'smoothxentTest');

  beforeAll(async () => {
    ({ page, errors } = await openPage(browser, `${server.url}api/`));
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 30_000 });
  }, SLOW);

  afterAll(() => page?.close());

  it('auto picks the fastest available backend, and wasm-simd is available', async () => {
    const choice = await call('backendChoice');
    expect(choice.unavailable).not.toHaveProperty('wasm-simd');
    expect(choice.available).toEqual(expect.arrayContaining(['wasm-simd', 'wasm', 'js']));
    // BACKENDS is fastest first, so the fastest available is the first that loaded.
    expect(choice.auto).toBe(choice.available[0]);
    expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(choice.auto);
  });

  it("gives the seed's anchor numbers on every backend", async () => {
    const results = await call('anchorOnEveryBackend');
    expect(results.map((r) => r.backend)).toEqual(expect.arrayContaining(['wasm-simd', 'wasm', 'js']));
    for (const r of results) {
      expect(r.hardLoss, r.backend).toBeCloseTo(0.5108, 4);
      expect(r.smoothLoss, r.backend).toBeCloseTo(0.6279, 4);
      expect(r.hardGrad[ANCHOR_LABEL], r.backend).toBeCloseTo(-0.4, 6);
      expect(r.smoothGrad[ANCHOR_LABEL], r.backend).toBeCloseTo(-0.325, 6);
      expect(r.hardGrad[0], r.backend).toBeCloseTo(0.1, 6);
      expect(r.smoothGrad[0], r.backend).toBeCloseTo(0.075, 6);
    }
    // And the same as Node's js backend to float32 accuracy.
    const node = await lib.createXent({ backend: 'js' });
    const logits = Float32Array.from(ANCHOR_PROBS, Math.log);
    const nodeSmooth = node.crossEntropy(logits, [ANCHOR_LABEL], { numClasses: 4, smoothing: 0.1 }).loss;
    for (const r of results) expect(Math.abs(r.smoothLoss - nodeSmooth)).toBeLessThanOrEqual(1e-6);
  });

  it('matches the js backend on a 512 × 32000 batch', async () => {
    const comparisons = await call('largeBatchAgainstJs', 512, 32000);
    expect(comparisons.length).toBeGreaterThanOrEqual(3);
    // The core's accuracy bars: loss relative error ≤ 1e-6, max|grad difference|·N ≤ 2e-6,
    // against the js backend and against the float64 reference (the messages carry all numbers).
    for (const c of comparisons) {
      const label = JSON.stringify(c);
      expect(Number.isFinite(c.loss), label).toBe(true);
      expect(c.lossErrorVsReference, label).toBeLessThanOrEqual(1e-6);
      expect(c.gradErrorVsReference, label).toBeLessThanOrEqual(2e-6);
      expect(c.lossErrorVsJs, label).toBeLessThanOrEqual(1e-6);
      expect(c.gradErrorVsJs, label).toBeLessThanOrEqual(2e-6);
    }
  }, SLOW);

  it('throws the same named errors as in Node', async () => {
    const inBrowser = await call('errorCases');
    const inNode = await errorCases(lib);
    expect(inBrowser).toEqual(inNode);
    for (const outcome of inBrowser) expect(outcome.name, outcome.case).not.toBe('no error');
    const byCase = Object.fromEntries(inBrowser.map((o) => [o.case, o]));
    expect(byCase['Float64Array logits'].name).toBe('TypeError');
    expect(byCase['Float64Array logits'].message).toMatch(/logits/);
    expect(byCase['numClasses 0'].name).toBe('RangeError');
    expect(byCase['numClasses 0'].message).toMatch(/numClasses/);
    expect(byCase['smoothing NaN'].name).toBe('RangeError');
    expect(byCase['label out of range'].name).toBe('RangeError');
  });

  it('evaluates, fits a temperature and computes softmax as Node does, on every backend', async () => {
    const outcomes = await call('evaluationOnEveryBackend');
    expect(outcomes.map((o) => o.backend)).toEqual(expect.arrayContaining(['wasm-simd', 'wasm', 'js']));
    const node = await lib.createXent({ backend: 'js' });
    const { logits, labels } = classifierBatch();
    const expected = node.evaluate(logits, labels, { numClasses: 100, smoothing: 0.1 });
    const temperature = node.fitTemperature(logits, labels, { numClasses: 100 }).temperature;
    for (const o of outcomes) {
      const close = (a: number, b: number, bar = 1e-6) => Math.abs(a - b) <= bar * Math.max(1, Math.abs(b));
      for (const key of ['nll', 'smoothedLoss', 'brier', 'entropy', 'meanConfidence', 'ece', 'mce', 'ace'] as const) {
        expect(close(o.result[key], expected[key]), `${o.backend} ${key}: ${o.result[key]} vs ${expected[key]}`).toBe(true);
      }
      expect(o.result.count, o.backend).toBe(expected.count);
      expect(o.result.accuracy, o.backend).toBe(expected.accuracy);
      expect(o.result.topK, o.backend).toEqual(expected.topK);
      expect(o.result.bins.map((b) => b.count), o.backend).toEqual(expected.bins.map((b) => b.count));
      expect(close(o.temperature, temperature, 1e-4), `${o.backend} temperature ${o.temperature} vs ${temperature}`).toBe(true);
      ANCHOR_PROBS.forEach((p, k) => expect(close(o.anchorProbs[k], p, 5e-7), `${o.backend} p[${k}]`).toBe(true));
    }
  }, SLOW);

  it('takes float16 (a Float16Array, Chrome ≥ 135) and bfloat16 logits with the float32 call\'s bits, on every backend', async () => {
    const outcomes = await call('halfOnEveryBackend');
    expect(outcomes.map((o) => o.backend)).toEqual(expect.arrayContaining(['wasm-simd', 'wasm', 'js']));
    for (const o of outcomes) {
      expect(o.hasFloat16Array, o.backend).toBe(true);
      expect(o.mismatches, o.backend).toEqual([]);
    }
  }, SLOW);

  it('logged no page errors', () => {
    expect(errors).toEqual([]);
  });
});

describe('the demo page on a phone (390 × 844)', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    errors = [];
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    await page.goto(`${server.url}web/?benchMs=20&shape=256x1000`);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 30_000 });
  }, SLOW);

  afterAll(() => page?.close());

  /** The page's width and, per chart, the smallest text as rendered (font size × the SVG's scale). */
  const measure = () => page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth,
    charts: Array.from(document.querySelectorAll('svg')).map((svg) => {
      const scale = svg.getScreenCTM()?.a ?? 1;
      const sizes = Array.from(svg.querySelectorAll('text'), (t) => parseFloat(getComputedStyle(t).fontSize) * scale);
      return { id: svg.id, texts: sizes.length, smallest: Math.min(...sizes) };
    }),
  }));

  it('is no wider than the viewport, and every chart text renders at ≥ 10 CSS px', async () => {
    for (const state of ['loaded', 'benchmarked'] as const) {
      if (state === 'benchmarked') {
        await page.locator('#bench-run').click();
        await page.waitForSelector('#bench-status[data-state="done"]', { timeout: 60_000 });
      }
      const { scrollWidth, innerWidth, charts } = await measure();
      expect(scrollWidth, state).toBeLessThanOrEqual(innerWidth);
      expect(charts.map((c) => c.id).sort(), state).toEqual(['bench-chart', 'calibration-sweep', 'gap-chart', 'reliability-after', 'reliability-before', 'targets-chart']);
      for (const chart of charts) {
        expect(chart.texts, `${state}: ${chart.id}`).toBeGreaterThan(0);
        expect(chart.smallest, `${state}: ${chart.id}`).toBeGreaterThanOrEqual(10);
      }
    }
    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, 'web-page-390.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, SLOW);
});

describe('the demo page in Chromium', () => {
  let page: Page;
  let errors: string[];
  const numClasses = 4;

  beforeAll(async () => {
    ({ page, errors } = await openPage(browser, `${server.url}web/?benchMs=40&shape=256x1000`));
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.waitForSelector('body[data-ready]', { state: 'attached', timeout: 30_000 });
    const status = await page.locator('body').getAttribute('data-ready');
    if (status !== 'true') throw new Error(`the page failed to start: ${await page.locator('#page-status').textContent()}`);
  }, SLOW);

  afterAll(() => page?.close());

  const value = async (selector: string) => Number(await page.locator(selector).getAttribute('data-value'));
  const text = async (selector: string) => (await page.locator(selector).textContent())?.trim();
  const cell = (className: string, column: string) => `#trace tr[data-class="${className}"] td[data-col="${column}"]`;

  /** Everything the anchor card shows must equal what the library computes in Node for the same input. */
  async function expectAnchorMatchesLibrary(probs: number[], epsilon: number) {
    const expected = lib.explain(probs, ANCHOR_LABEL, {
      smoothing: epsilon,
      classNames: ['sunny', 'cloudy', 'rainy', 'snowy'],
      from: 'probs',
    });
    expect(await text('#epsilon-value')).toBe(epsilon.toFixed(3));
    expect(await value('#hard-ce')).toBeCloseTo(expected.hardCE, 12);
    expect(await value('#smooth-ce')).toBeCloseTo(expected.smoothCE, 12);
    expect(await text('#smooth-ce')).toBe(expected.smoothCE.toFixed(4));
    for (const [k, row] of expected.rows.entries()) {
      expect(await value(cell(row.className, 'p'))).toBeCloseTo(expected.probs[k], 12);
      expect(await value(cell(row.className, 'yHard'))).toBe(row.yHard);
      expect(await value(cell(row.className, 'ySmooth'))).toBeCloseTo(row.ySmooth, 12);
      expect(await value(cell(row.className, 'logP'))).toBeCloseTo(row.logP, 12);
      expect(await value(cell(row.className, 'term'))).toBeCloseTo(row.term, 12);
      expect(await value(cell(row.className, 'gradHard'))).toBeCloseTo(expected.gradHard[k], 12);
      expect(await value(cell(row.className, 'gradSmooth'))).toBeCloseTo(expected.gradSmooth[k], 12);
    }
    // The fused kernel's number, against Node's js backend on the same float32 logits.
    const logits = Float32Array.from(expected.rows, (row) => row.logP);
    const node = await lib.createXent({ backend: 'js' });
    const kernelLoss = node.crossEntropy(logits, [ANCHOR_LABEL], { numClasses, smoothing: epsilon }).loss;
    expect(Math.abs((await value('#kernel-loss')) - kernelLoss)).toBeLessThanOrEqual(1e-6);
    expect(await page.locator('#kernel-check').getAttribute('data-agrees')).toBe('true');
    // The chart's optimum is the closed form log((1 − ε + ε/K)/(ε/K)).
    const optimum = Number(await page.locator('#gap-chart').getAttribute('data-optimum'));
    const share = epsilon / numClasses;
    expect(optimum).toBeCloseTo(Math.log((1 - epsilon + share) / share), 12);
    expect(optimum).toBeCloseTo(expected.optimalGap, 12);
    return expected;
  }

  it('shows the backend auto picked (a SIMD one in Chromium)', async () => {
    expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(await text('#backend-badge'));
    expect(await text('#kernel-check')).toMatch(new RegExp(`^${await text('#backend-badge')}: agrees`));
  });

  it("starts at the seed's anchor, ε = 0.1", async () => {
    const expected = await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0.1);
    expect(await text('#hard-ce')).toBe('0.5108');
    expect(await text('#smooth-ce')).toBe('0.6279');
    expect(await text(cell('rainy', 'gradHard'))).toBe('−0.4000');
    expect(await text(cell('rainy', 'gradSmooth'))).toBe('−0.3250');
    expect(await text(cell('rainy', 'ySmooth'))).toBe('0.9250');
    expect(await text(cell('sunny', 'ySmooth'))).toBe('0.0250');
    expect(expected.optimalGap).toBeCloseTo(3.61, 2);
    expect(await page.locator('#gap-chart text.optimum-label').textContent()).toContain('g* = 3.61');
  });

  it('follows the ε slider (0.3, then 0, then 0.1)', async () => {
    await page.locator('#epsilon').fill('0.3');
    await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0.3);
    expect(await text('#optimal-gap')).toBe('2.34'); // log((0.7 + 0.075) / 0.075) = 2.3354

    // ε = 0: smoothing off, both losses equal, and no optimum anywhere.
    await page.locator('#epsilon').fill('0');
    await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0);
    expect(await text('#smooth-ce')).toBe(await text('#hard-ce'));
    expect(await text('#optimal-gap')).toBe('none (∞)');
    expect(await page.locator('#gap-chart [data-testid="optimum-dot"]').count()).toBe(0);

    await page.locator('#epsilon').fill('0.1');
    await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0.1);
    expect(await text('#smooth-ce')).toBe('0.6279');
  });

  it('draws both loss curves from data and marks the smoothed optimum', async () => {
    const paths = page.locator('#gap-chart path.curve');
    expect(await paths.count()).toBe(2);
    for (const d of await paths.evaluateAll((elements) => elements.map((e) => e.getAttribute('d') ?? ''))) {
      expect(d.split('L').length).toBeGreaterThan(200); // one vertex per gap value
    }
    expect(await page.locator('#gap-chart [data-testid="optimum-dot"]').count()).toBe(1);
  });

  it('renormalises edited probabilities', async () => {
    await page.locator('#epsilon').fill('0.1');
    await page.locator('#prob-inputs input[data-class="sunny"]').fill('0.3');
    await expectAnchorMatchesLibrary([0.3, 0.2, 0.6, 0.1].map((w) => w / 1.2), 0.1);
    await page.locator('#reset-probs').click();
    await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0.1);
  });

  it('shows ∞ when p(true class) = 0, and counts the kernel and explain() as agreeing (both +∞)', async () => {
    await page.locator('#prob-inputs input[data-class="rainy"]').fill('0');
    expect(await text('#hard-ce')).toBe('∞');
    expect(await text('#smooth-ce')).toBe('∞');
    expect(await text('#kernel-loss')).toBe('∞');
    expect(await page.locator('#kernel-check').getAttribute('data-agrees')).toBe('true');
    expect(await text('#kernel-check')).toMatch(/agrees with explain\(\) \(both ∞\)/);
    expect(await text('#kernel-check')).not.toMatch(/NaN/);
    await page.locator('#reset-probs').click();
    await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0.1);
  });

  it('marks invalid probabilities with a reason, and the table says it shows the last valid input', async () => {
    const input = (name: string) => page.locator(`#prob-inputs input[data-class="${name}"]`);
    const reason = (name: string) => text(`#prob-inputs label[data-class="${name}"] .reason`);
    const caption = () => text('#trace caption');
    expect(await caption()).toBe('');
    await input('sunny').fill('0.3');
    const lastValid = [0.3, 0.2, 0.6, 0.1].map((w) => w / 1.2);
    await expectAnchorMatchesLibrary(lastValid, 0.1);

    for (const [typed, why] of [['-1', 'must be ≥ 0'], ['', 'enter a number']] as const) {
      await input('sunny').fill(typed);
      expect(await input('sunny').inputValue()).toBe(typed);
      expect(await input('sunny').getAttribute('aria-invalid')).toBe('true');
      expect(await reason('sunny')).toBe(why);
      expect(await caption()).toMatch(/last valid input/);
      await expectAnchorMatchesLibrary(lastValid, 0.1); // unchanged
    }
    // All zero: each value is fine on its own, together they are no distribution. (Typed one
    // box at a time, the boxes would pass through a one-hot state; set them at once.)
    await page.evaluate(() => {
      const boxes = Array.from(document.querySelectorAll<HTMLInputElement>('#prob-inputs input'));
      for (const box of boxes) box.value = '0';
      boxes[0].dispatchEvent(new Event('input', { bubbles: true }));
    });
    for (const name of ['sunny', 'cloudy', 'rainy', 'snowy']) {
      expect(await input(name).getAttribute('aria-invalid')).toBe('true');
      expect(await reason(name)).toBe('all zero');
    }
    expect(await caption()).toMatch(/last valid input/);
    await expectAnchorMatchesLibrary(lastValid, 0.1);

    // Valid again: marks and caption gone, the table follows.
    await page.locator('#reset-probs').click();
    for (const name of ['sunny', 'cloudy', 'rainy', 'snowy']) {
      expect(await input(name).getAttribute('aria-invalid')).toBe(null);
      expect(await reason(name)).toBe('');
    }
    expect(await caption()).toBe('');
    await expectAnchorMatchesLibrary(ANCHOR_PROBS, 0.1);
  });

  // The calibration section: the page trains the weather model at its slider's ε; Node trains
  // the same one on the page's backend when Node has it, else on its fastest (every backend
  // agrees within 1e-7: test/calibration-demo.test.ts), and the figures must agree.
  const calibrationData = weatherData();
  let nodeXent: lib.Xent | undefined;
  const nodeStudies = new Map<number, CalibrationStudy>();
  async function nodeStudy(epsilon: number): Promise<CalibrationStudy> {
    if (!nodeXent) {
      const backend = (await text('#backend-badge')) as lib.BackendName;
      nodeXent = await lib.createXent({ backend }).catch(() => lib.createXent());
    }
    let study = nodeStudies.get(epsilon);
    if (!study) nodeStudies.set(epsilon, (study = studyCalibration(nodeXent, calibrationData, epsilon)));
    return study;
  }
  const near = (got: number, expected: number, bar: number) => Math.abs(got - expected) <= bar * Math.max(1, Math.abs(expected));
  const diagramBins = (side: 'before' | 'after', className: string) => page
    .locator(`#reliability-${side} rect.${className}`)
    .evaluateAll((rects) => rects.map((r) => ({ bin: Number(r.getAttribute('data-bin')), count: Number(r.getAttribute('data-count')), side: r.getAttribute('class') })));

  async function expectCalibrationMatchesLibrary(epsilon: number): Promise<CalibrationStudy> {
    await page.waitForSelector(`#calibration[data-state="done"][data-epsilon="${epsilon}"]`, { state: 'attached', timeout: 30_000 });
    expect(await text('#calibration-epsilon-value')).toBe(epsilon.toFixed(3));
    const study = await nodeStudy(epsilon);
    const shown = {
      accuracy: await value('#cal-accuracy'),
      confidenceBefore: await value('#cal-confidence-before'),
      confidenceAfter: await value('#cal-confidence-after'),
      eceBefore: await value('#cal-ece-before'),
      eceAfter: await value('#cal-ece-after'),
      temperature: await value('#cal-temperature'),
    };
    const what = `ε = ${epsilon}: page ${JSON.stringify(shown)}`;
    expect(Math.abs(shown.accuracy - study.test.accuracy), what).toBeLessThanOrEqual(1 / calibrationData.test.rows);
    expect(near(shown.confidenceBefore, study.test.meanConfidence, 1e-6), what).toBe(true);
    expect(near(shown.confidenceAfter, study.calibrated.meanConfidence, 1e-6), what).toBe(true);
    expect(near(shown.eceBefore, study.test.ece, 1e-5), what).toBe(true);
    expect(near(shown.eceAfter, study.calibrated.ece, 1e-5), what).toBe(true);
    expect(near(shown.temperature, study.fit.temperature, 1e-5), what).toBe(true);
    expect(await text('#cal-temperature')).toBe(study.fit.temperature.toFixed(3));
    // The diagrams draw exactly the page's results, and Node's bins (a row may sit at a bin edge).
    for (const [side, result, ece] of [['before', study.test, shown.eceBefore], ['after', study.calibrated, shown.eceAfter]] as const) {
      const svg = page.locator(`#reliability-${side}`);
      expect(Number(await svg.getAttribute('data-ece')), `${side} ${what}`).toBe(ece);
      expect(Number(await svg.getAttribute('data-count'))).toBe(calibrationData.test.rows);
      const counts = await diagramBins(side, 'count-bar');
      const expected = result.bins.map((bin, b) => ({ bin: b, count: bin.count })).filter((bin) => bin.count > 0);
      expect(counts.map((c) => c.bin), `${side} ${what}`).toEqual(expected.map((c) => c.bin));
      counts.forEach((c, i) => expect(Math.abs(c.count - expected[i].count), `${side} bin ${c.bin}`).toBeLessThanOrEqual(1));
      expect(await page.locator(`#reliability-${side} text.caption`).first().textContent()).toContain(`ECE ${ece.toFixed(4)}`);
    }
    expect(await text('#cal-summary')).toMatch(study.test.meanConfidence > study.test.accuracy ? /over-confident/ : /under-confident/);
    return study;
  }
  /** Rows in over- and under-confident bins of a diagram. */
  const miscalibratedRows = async (side: 'before' | 'after') => {
    const gaps = await diagramBins(side, 'gap');
    const rows = (which: string) => gaps.filter((g) => g.side === `gap ${which}`).reduce((sum, g) => sum + g.count, 0);
    return { over: rows('over'), under: rows('under') };
  };

  it('draws the calibration section at ε = 0.1 with the numbers the library computes', async () => {
    const study = await expectCalibrationMatchesLibrary(0.1);
    expect(study.fit.temperature).toBeGreaterThan(1);
    expect(study.calibrated.ece).toBeLessThan(study.test.ece);
    expect(await text('#cal-ece-before')).toBe(study.test.ece.toFixed(4));
    // The note describes the model the page trains.
    for (const key of ['trainRows', 'numFeatures', 'steps', 'testRows', 'validationRows'] as const) {
      expect(await text(`#calibration [data-weather="${key}"]`), key).toBe(String(WEATHER[key]));
    }
  });

  it("follows its ε slider: over-confident with hard labels, under-confident at ε = 0.3, and T fixes both", async () => {
    const slider = page.locator('#calibration-epsilon');
    await slider.fill('0');
    const hard = await expectCalibrationMatchesLibrary(0);
    expect(hard.test.meanConfidence - hard.test.accuracy).toBeGreaterThan(0.1);
    expect(hard.fit.temperature).toBeGreaterThan(2);
    expect(hard.calibrated.ece).toBeLessThan(hard.test.ece / 4);
    const hardGaps = await miscalibratedRows('before');
    expect(hardGaps.over).toBeGreaterThan(10 * hardGaps.under);

    await slider.fill('0.3');
    const heavy = await expectCalibrationMatchesLibrary(0.3);
    expect(heavy.test.meanConfidence).toBeLessThan(heavy.test.accuracy - 0.05);
    expect(heavy.fit.temperature).toBeLessThan(1);
    expect(await text('#cal-summary')).toMatch(/< 1 sharpens it/);
    const heavyGaps = await miscalibratedRows('before');
    expect(heavyGaps.under).toBeGreaterThan(10 * heavyGaps.over);
    // Every ε drew something else: the ECE moved with it.
    expect(new Set([hard.test.ece, heavy.test.ece, (await nodeStudy(0.1)).test.ece]).size).toBe(3);

    // Moved quickly across many stops, the page ends on the last one.
    for (const stop of ['0.05', '0.125', '0.2', '0.275']) await slider.fill(stop);
    await expectCalibrationMatchesLibrary(0.275);
    await slider.fill('0.1');
    await expectCalibrationMatchesLibrary(0.1);
  }, SLOW);

  it('draws the test ECE against ε for the whole grid, before and after temperature scaling', async () => {
    await page.waitForSelector('#calibration-sweep[data-state="done"]', { state: 'attached', timeout: 60_000 });
    const dots = await page.locator('#calibration-sweep circle.sweep-dot').evaluateAll((circles) =>
      circles.map((c) => ({ series: c.getAttribute('data-series'), epsilon: Number(c.getAttribute('data-epsilon')), ece: Number(c.getAttribute('data-ece')) })));
    for (const series of ['before', 'after'] as const) {
      const shown = dots.filter((d) => d.series === series);
      expect(shown.map((d) => d.epsilon).filter((e) => SWEEP_SMOOTHINGS.includes(e))).toEqual(SWEEP_SMOOTHINGS);
      for (const dot of shown) {
        const study = await nodeStudy(dot.epsilon);
        const expected = series === 'before' ? study.test.ece : study.calibrated.ece;
        expect(near(dot.ece, expected, 1e-5), `${series} ε = ${dot.epsilon}: ${dot.ece} vs ${expected}`).toBe(true);
      }
    }
    const at = (series: string, epsilon: number) => dots.find((d) => d.series === series && d.epsilon === epsilon)!.ece;
    // Smoothing helps, then overshoots; after temperature scaling every ε is calibrated. (T
    // minimises the NLL, not the ECE: where a model is calibrated already, as at ε = 0.15 with
    // ECE 0.013, it may leave the ECE a little higher, 0.017.)
    expect(at('before', 0.1)).toBeLessThan(at('before', 0) / 3);
    expect(at('before', 0.5)).toBeGreaterThan(at('before', 0.1) * 3);
    for (const epsilon of SWEEP_SMOOTHINGS) {
      expect(at('after', epsilon), `ε = ${epsilon}`).toBeLessThan(0.03);
      if (at('before', epsilon) > 0.03) expect(at('after', epsilon), `ε = ${epsilon}`).toBeLessThan(at('before', epsilon) / 2);
    }
    expect(await page.locator('#calibration-sweep line.sweep-current').getAttribute('data-epsilon')).toBe('0.1');
  }, SLOW);

  it('runs the benchmark and draws one bar per method', async () => {
    await page.locator('#bench-run').click();
    await page.waitForSelector('#bench-status[data-state="done"], #bench-status[data-state="error"]', { timeout: 60_000 });
    expect(await page.locator('#bench-status').getAttribute('data-state')).toBe('done');
    const bars = await page
      .locator('#bench-chart rect[data-method]')
      .evaluateAll((rects) => rects.map((r) => ({ method: r.getAttribute('data-method'), ns: Number(r.getAttribute('data-ns')) })));
    const methods = bars.map((b) => b.method);
    expect(methods).toEqual(expect.arrayContaining(['wasm-simd', 'wasm', 'js', 'textbook']));
    for (const bar of bars) expect(bar.ns, bar.method ?? '').toBeGreaterThan(0);
    const ns = Object.fromEntries(bars.map((b) => [b.method, b.ns]));
    expect(ns['wasm-simd']).toBeLessThan(ns.textbook);
  }, SLOW);

  it('looks right (screenshot in test-output/web-page.png) and logged no errors', async () => {
    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, 'web-page.png'), fullPage: true });
    expect(errors).toEqual([]);
  });
});
