/**
 * The published package, as a stranger gets it: `npm pack`, install the tarball into a fresh
 * temporary project (from the npm cache where it can), then use it from Node ESM, Node CommonJS,
 * TypeScript (both module kinds), an esbuild browser bundle and a Vite browser build. Each
 * must produce the seed's anchor numbers, also from an async call on a two-worker pool (whose
 * worker code travels inside the bundle); the browser bundles run in headless Chromium.
 * The `smoothxent/tfjs` subpath too: imported from ESM, CJS and TypeScript (both kinds)
 * with @tensorflow/tfjs-core + tfjs-backend-cpu (linked from this repository's node_modules:
 * they are the caller's optional peers, not the package's dependencies), the anchor's loss
 * and gradient through tf.valueAndGrad.
 *
 * Needs a built dist/ (`npm test` builds first); a stale one is an error, not a silent pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { repoRoot, serveDirectory } from '../scripts/web-lib.mjs';
import { launchChromium, openPage } from './browser/chromium.js';

const run = promisify(execFile);
const SLOW = 120_000;

let workDir: string;
let projectDir: string;
let packedFiles: string[];

/** The anchor computation every consumer runs: p = [0.1, 0.2, 0.6, 0.1], true class 2, K = 4. */
const ANCHOR_FUNCTION = `
async function anchor(lib) {
  const probs = [0.1, 0.2, 0.6, 0.1];
  const logits = Float32Array.from(probs, Math.log);
  const xent = await lib.createXent();
  const hard = xent.crossEntropy(logits, [2], { numClasses: 4, grad: true });
  const smooth = xent.crossEntropy(logits, [2], { numClasses: 4, smoothing: 0.1, grad: true });
  // Async on a pool of two workers (the worker code travels inside the bundle): 64 copies of the
  // anchor row, large enough not to run inline, whose mean loss is the anchor's.
  const threaded = await lib.createXent({ threads: 2 });
  const rows = 64;
  const many = new Float32Array(4 * rows);
  for (let r = 0; r < rows; r++) many.set(logits, 4 * r);
  const asyncSmooth = await threaded.crossEntropyAsync(many, new Int32Array(rows).fill(2), { numClasses: 4, smoothing: 0.1, grad: true });
  const pool = { threads: threaded.threads, sharedMemory: threaded.sharedMemory, asyncSmoothLoss: asyncSmooth.loss, asyncSmoothGrad2: asyncSmooth.grad[2] * rows };
  threaded.dispose();
  return {
    exports: Object.keys(lib).filter((name) => name !== 'default' && name !== '__esModule').sort(),
    backend: xent.backend,
    hardLoss: hard.loss,
    smoothLoss: smooth.loss,
    hardGrad: Array.from(hard.grad),
    smoothGrad: Array.from(smooth.grad),
    explainSmoothCE: lib.explain(probs, 2, { smoothing: 0.1 }).smoothCE,
    evaluation: xent.evaluate(logits, [2], { numClasses: 4, smoothing: 0.1, bins: 4 }),
    pool,
  };
}
`;

/** The anchor through smoothxent/tfjs: loss and tf.valueAndGrad gradient of one row of logits log p. */
const TFJS_ANCHOR_FUNCTION = `
async function tfjsAnchor(tf, lib) {
  await tf.setBackend('cpu');
  const losses = await lib.createTfjsLosses(tf);
  const logits = tf.tensor2d([[0.1, 0.2, 0.6, 0.1].map(Math.log)]);
  const { value, grad } = tf.valueAndGrad((z) => losses.crossEntropy(z, [2], { smoothing: 0.1 }))(logits);
  return {
    exports: Object.keys(lib).filter((name) => name !== 'default' && name !== '__esModule').sort(),
    backend: losses.backend,
    smoothLoss: value.dataSync()[0],
    smoothGrad: Array.from(grad.dataSync()),
    gradShape: grad.shape,
  };
}
`;

const FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'smoothxent-consumer', version: '1.0.0', private: true }, null, 2),
  'esm.mjs': `import * as lib from 'smoothxent';\n${ANCHOR_FUNCTION}\nconsole.log(JSON.stringify(await anchor(lib)));\n`,
  'cjs.cjs':
    `const lib = require('smoothxent');\n${ANCHOR_FUNCTION}\n` +
    `anchor(lib).then((result) => console.log(JSON.stringify(result)), (error) => { console.error(error); process.exit(1); });\n`,
  'tfjs-esm.mjs':
    `import * as tf from '@tensorflow/tfjs-core';\nimport '@tensorflow/tfjs-backend-cpu';\n` +
    `import * as lib from 'smoothxent/tfjs';\n${TFJS_ANCHOR_FUNCTION}\nconsole.log(JSON.stringify(await tfjsAnchor(tf, lib)));\n`,
  'tfjs-cjs.cjs':
    `const tf = require('@tensorflow/tfjs-core');\nrequire('@tensorflow/tfjs-backend-cpu');\n` +
    `const core = require('smoothxent');\nconst lib = require('smoothxent/tfjs');\n${TFJS_ANCHOR_FUNCTION}\n` +
    // Both entries share one core: the only smoothxent files loaded are the two CJS entries.
    `const loaded = () => Object.keys(require.cache).filter((p) => p.includes('node_modules/smoothxent/')).map((p) => p.slice(p.indexOf('smoothxent/'))).sort();\n` +
    `tfjsAnchor(tf, lib).then((result) => console.log(JSON.stringify({ ...result, loaded: loaded(), coreLoaded: typeof core.createXent })),\n` +
    `  (error) => { console.error(error); process.exit(1); });\n`,
  'tfjs-app.mjs': `import { createTfjsLosses } from 'smoothxent/tfjs';\nwindow.createTfjsLosses = createTfjsLosses;\n`,
  // The browser entry, for both bundlers: the result lands on window and body[data-done].
  'app.mjs':
    `import * as lib from 'smoothxent';\n${ANCHOR_FUNCTION}\n` +
    `anchor(lib).then(\n` +
    `  (result) => { window.anchorResult = result; document.body.dataset.done = 'true'; },\n` +
    `  (error) => { window.anchorError = String(error && error.stack || error); document.body.dataset.done = 'error'; },\n` +
    `);\n`,
  'index.html':
    '<!doctype html>\n<html><head><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,">' +
    '<script type="module" src="./app.mjs"></script></head><body></body></html>\n',
  // TypeScript consumers: the types must resolve for import and for require, and be real (not any).
  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022', 'dom'],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['types-esm.mts', 'types-cjs.cts', 'types-tfjs-esm.mts', 'types-tfjs-cjs.cts'],
    },
    null,
    2,
  ),
  'types-esm.mts': [
    "import { createXent, explain, type Xent, type BackendName } from 'smoothxent';",
    'const xent: Xent = await createXent();',
    'const backend: BackendName = xent.backend;',
    "const { loss, grad } = xent.crossEntropy(new Float32Array(4), [2], { numClasses: 4, smoothing: 0.1, grad: true });",
    'const total: number = loss + (grad?.length ?? 0) + explain([0.1, 0.2, 0.6, 0.1], 2).smoothCE;',
    "const { losses } = xent.crossEntropy(new Float32Array(4), [2], { numClasses: 4, reduction: 'none' });",
    'const first: number = losses[0];',
    "const counted: number = xent.crossEntropy(new Float32Array(4), [2], { numClasses: 4, reduction: 'sum' }).count;",
    'const ev = xent.createEvaluator({ numClasses: 4, topK: [1, 2] });',
    'ev.add(new Float32Array(4), [2]);',
    'const ece: number = ev.result().ece + ev.result().topK[2] + ev.result().bins[0].accuracy + counted;',
    'const target: Float32Array = xent.rowStats(new Float32Array(4), [2], { numClasses: 4 }).targetLogProb;',
    'const fitted: number = xent.fitTemperature(new Float32Array(4), [2], { numClasses: 4 }).temperature + target[0];',
    "// @ts-expect-error bins must be a number",
    "xent.evaluate(new Float32Array(4), [2], { numClasses: 4, bins: '15' });",
    "const later = await xent.crossEntropyAsync(new Float32Array(4), [2], { numClasses: 4, signal: new AbortController().signal });",
    'const asyncLoss: number = later.loss + xent.threads + Number(xent.sharedMemory);',
    '// @ts-expect-error signal must be an AbortSignal',
    "xent.crossEntropyAsync(new Float32Array(4), [2], { numClasses: 4, signal: 'stop' });",
    '// @ts-expect-error numClasses is required',
    'xent.crossEntropy(new Float32Array(4), [2], {});',
    'export { backend, total, first, ece, fitted, asyncLoss };',
    '',
  ].join('\n'),
  'types-cjs.cts': [
    "import smoothxent = require('smoothxent');",
    'async function main(): Promise<number> {',
    '  const xent: smoothxent.Xent = await smoothxent.createXent();',
    "  return xent.crossEntropy(new Float32Array(4), [2], { numClasses: 4 }).loss;",
    '}',
    '// @ts-expect-error smoothing must be a number',
    "smoothxent.createXent().then((xent) => xent.crossEntropy(new Float32Array(4), [2], { numClasses: 4, smoothing: '0.1' }));",
    'export = main;',
    '',
  ].join('\n'),
  // tfjs-core's own declarations use the global `Long` of @types/long (one of its dependencies),
  // which `types: []` leaves out: a tfjs user with that setting names it, as here.
  'types-tfjs-esm.mts': [
    '/// <reference types="long" />',
    "import * as tf from '@tensorflow/tfjs-core';",
    "import { createTfjsLosses, type TfjsLosses, type TfjsLossFunction } from 'smoothxent/tfjs';",
    "const losses: TfjsLosses = await createTfjsLosses(tf, { backend: 'auto' });",
    "const mean: tf.Scalar = losses.crossEntropy(tf.zeros([2, 4]), [0, 1], { smoothing: 0.1 });",
    "const rows: tf.Tensor = losses.crossEntropy(tf.zeros([2, 4]), tf.tensor1d([0, 1], 'int32'), { reduction: 'none' });",
    "const loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor = losses.sparseCategoricalCrossentropy({ smoothing: 0.1 });",
    "const soft: TfjsLossFunction = losses.categoricalCrossentropy({ temperature: 2, fromLogits: true });",
    '// @ts-expect-error fromLogits must be a boolean',
    "losses.crossEntropy(tf.zeros([2, 4]), [0, 1], { fromLogits: 'yes' });",
    '// @ts-expect-error numClasses comes from the logits',
    "losses.crossEntropy(tf.zeros([2, 4]), [0, 1], { numClasses: 4 });",
    'export { mean, rows, loss, soft };',
    '',
  ].join('\n'),
  'types-tfjs-cjs.cts': [
    '/// <reference types="long" />',
    "import tf = require('@tensorflow/tfjs-core');",
    "import smoothxentTfjs = require('smoothxent/tfjs');",
    'async function main(): Promise<number> {',
    '  const losses: smoothxentTfjs.TfjsLosses = await smoothxentTfjs.createTfjsLosses(tf);',
    '  return losses.crossEntropy(tf.zeros([2, 4]), [0, 1]).dataSync()[0];',
    '}',
    'export = main;',
    '',
  ].join('\n'),
};

/** Newest modification time of the files under `dir` (recursive), in ms. */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(path) : (await stat(path)).mtimeMs);
  }
  return newest;
}

async function checkDistIsBuilt(): Promise<void> {
  const cjs = join(repoRoot, 'dist/index.cjs');
  const built = await stat(cjs).then((s) => s.mtimeMs, () => 0);
  if (built === 0) throw new Error('dist/index.cjs is missing: run `npm run build` first (`npm test` does).');
  if ((await newestMtime(join(repoRoot, 'src'))) > built) {
    throw new Error('dist/ is older than src/: run `npm run build` first (`npm test` does).');
  }
}

beforeAll(async () => {
  await checkDistIsBuilt();
  workDir = await mkdtemp(join(tmpdir(), 'smoothxent-consumer-'));
  projectDir = join(workDir, 'project');
  await mkdir(projectDir);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', workDir], { cwd: repoRoot });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packedFiles = packed.files.map((f) => f.path);
  for (const [name, content] of Object.entries(FILES)) await writeFile(join(projectDir, name), content);
  // The tarball has no dependencies; --prefer-offline still lets npm use its cache for anything
  // it asks for (--offline failed on a machine whose cache lacked metadata npm install wanted).
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(workDir, packed.filename)], {
    cwd: projectDir,
  });
  // The caller's own tfjs (an optional peer: npm installed none), linked after the install so
  // that npm does not prune it.
  for (const name of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@types/long']) {
    await mkdir(join(projectDir, 'node_modules', dirname(name)), { recursive: true });
    await symlink(join(repoRoot, 'node_modules', name), join(projectDir, 'node_modules', name), 'dir');
  }
}, SLOW);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface AnchorResult {
  pool: { threads: number; sharedMemory: boolean; asyncSmoothLoss: number; asyncSmoothGrad2: number };
  exports: string[];
  backend: string;
  hardLoss: number;
  smoothLoss: number;
  hardGrad: number[];
  smoothGrad: number[];
  explainSmoothCE: number;
  evaluation: { count: number; nll: number; smoothedLoss: number; accuracy: number; ece: number };
}

function expectAnchor(result: AnchorResult) {
  expect(result.hardLoss).toBeCloseTo(0.5108, 4);
  expect(result.smoothLoss).toBeCloseTo(0.6279, 4);
  expect(result.explainSmoothCE).toBeCloseTo(0.6279, 4);
  expect(result.evaluation.count).toBe(1);
  expect(result.evaluation.nll).toBeCloseTo(0.5108, 4);
  expect(result.evaluation.smoothedLoss).toBeCloseTo(0.6279, 4);
  expect(result.evaluation.accuracy).toBe(1);
  expect(result.evaluation.ece).toBeCloseTo(0.4, 6);
  expect(result.hardGrad[2]).toBeCloseTo(-0.4, 6);
  expect(result.smoothGrad[2]).toBeCloseTo(-0.325, 6);
  expect(result.hardGrad[0]).toBeCloseTo(0.1, 6);
  expect(result.smoothGrad[0]).toBeCloseTo(0.075, 6);
  expect(result.exports).toEqual(expect.arrayContaining(['createXent', 'explain', 'labelSmooth', 'crossEntropyFromProbs']));
  expect(result.pool.asyncSmoothLoss).toBeCloseTo(0.6279, 4);
  expect(result.pool.asyncSmoothGrad2).toBeCloseTo(-0.325, 6);
}

/** Node shares memory with its workers; a page that is not cross-origin isolated gets one worker with copies. */
const NODE_POOL = { threads: 2, sharedMemory: true };
const PAGE_POOL = { threads: 1, sharedMemory: false };
const poolOf = (result: AnchorResult) => ({ threads: result.pool.threads, sharedMemory: result.pool.sharedMemory });

interface TfjsAnchorResult {
  exports: string[];
  backend: string;
  smoothLoss: number;
  smoothGrad: number[];
  gradShape: number[];
}

const runNode = async <T = AnchorResult>(file: string): Promise<T> =>
  JSON.parse((await run(process.execPath, [file], { cwd: projectDir })).stdout);

describe('the packed tarball', () => {
  it('holds only dist/, README and package.json, with ESM, CJS and both kinds of types', () => {
    for (const path of packedFiles) expect(path).toMatch(/^(dist\/|README\.md$|package\.json$|LICENSE)/);
    expect(packedFiles).toEqual(
      expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/index.cjs', 'dist/index.d.cts']),
    );
    expect(packedFiles).toEqual(
      expect.arrayContaining(['dist/tfjs/index.js', 'dist/tfjs/index.d.ts', 'dist/tfjs/index.cjs', 'dist/tfjs/index.d.cts']),
    );
    expect(packedFiles.some((path) => path.endsWith('.wasm'))).toBe(false); // binaries travel inside the JS
  });

  it('declares an exports map, no side effects and no dependencies', async () => {
    const manifest = JSON.parse(await readFile(join(projectDir, 'node_modules/smoothxent/package.json'), 'utf8'));
    expect(manifest.exports['.'].import).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.exports['.'].require).toEqual({ types: './dist/index.d.cts', default: './dist/index.cjs' });
    expect(manifest.exports['./tfjs'].import).toEqual({ types: './dist/tfjs/index.d.ts', default: './dist/tfjs/index.js' });
    expect(manifest.exports['./tfjs'].require).toEqual({ types: './dist/tfjs/index.d.cts', default: './dist/tfjs/index.cjs' });
    expect(manifest.sideEffects).toBe(false);
    expect(Object.keys(manifest.dependencies ?? {})).toEqual([]);
    // tfjs is the caller's: an optional peer, so installing smoothxent alone pulls no tfjs.
    expect(Object.keys(manifest.peerDependencies)).toEqual(['@tensorflow/tfjs-core']);
    expect(manifest.peerDependenciesMeta['@tensorflow/tfjs-core']).toEqual({ optional: true });
  });
});

describe('the installed package in Node', () => {
  it("imports from ESM and gives the seed's anchor numbers", async () => {
    const result = await runNode('esm.mjs');
    expectAnchor(result);
    expect(poolOf(result)).toEqual(NODE_POOL);
    // Node 20 has SIMD, and relaxed SIMD only behind a flag (Node ≥ 22 has both).
    expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(result.backend);
  });

  it('requires from CommonJS with the same exports and numbers', async () => {
    const [esm, cjs] = await Promise.all([runNode('esm.mjs'), runNode('cjs.cjs')]);
    expectAnchor(cjs);
    expect(cjs).toEqual(esm);
    expect(poolOf(cjs)).toEqual(NODE_POOL);
  });

  it('smoothxent/tfjs: imports from ESM and requires from CJS (sharing the main CommonJS entry), with the anchor through tf.valueAndGrad', async () => {
    const esm = await runNode<TfjsAnchorResult>('tfjs-esm.mjs');
    const cjs = await runNode<TfjsAnchorResult & { loaded: string[]; coreLoaded: string }>('tfjs-cjs.cjs');
    for (const result of [esm, cjs]) {
      expect(result.exports).toEqual(['createTfjsLosses']);
      expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(result.backend);
      expect(result.smoothLoss).toBeCloseTo(0.6279, 4);
      expect(result.smoothGrad[2]).toBeCloseTo(-0.325, 6);
      expect(result.smoothGrad[0]).toBeCloseTo(0.075, 6);
      expect(result.gradShape).toEqual([1, 4]);
    }
    expect(cjs.loaded).toEqual(['smoothxent/dist/index.cjs', 'smoothxent/dist/tfjs/index.cjs']);
    expect(cjs.coreLoaded).toBe('function');
  });

  it('type-checks for TypeScript consumers of import and require', async () => {
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', projectDir], { cwd: projectDir }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe('');
  }, SLOW);
});

describe('the installed package bundled for the browser', () => {
  let browser: Browser;
  let server: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    browser = await launchChromium();
    server = await serveDirectory(projectDir);
  }, SLOW);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function runInChromium(path: string): Promise<AnchorResult> {
    const { page, errors } = await openPage(browser, `${server.url}${path}`);
    try {
      await page.waitForSelector('body[data-done]', { state: 'attached', timeout: 30_000 });
      const outcome = await page.evaluate(() => {
        const w = window as unknown as { anchorResult?: unknown; anchorError?: string };
        return { result: w.anchorResult, error: w.anchorError };
      });
      if (outcome.error) throw new Error(`the bundle failed in Chromium: ${outcome.error}`);
      expect(errors).toEqual([]);
      return outcome.result as AnchorResult;
    } finally {
      await page.close();
    }
  }

  it('bundles with esbuild (platform browser) and runs in Chromium', async () => {
    const outdir = join(projectDir, 'out-esbuild');
    const result = await esbuild({
      absWorkingDir: projectDir,
      entryPoints: ['app.mjs'],
      outdir,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    // Only the package ends up in the bundle: nothing from Node.
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => !/^(app\.mjs|node_modules\/smoothxent\/)/.test(p))).toEqual([]);
    await writeFile(join(outdir, 'index.html'), FILES['index.html'].replace('./app.mjs', './app.js'));
    const anchor = await runInChromium('out-esbuild/');
    expectAnchor(anchor);
    expect(poolOf(anchor)).toEqual(PAGE_POOL);
    expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(anchor.backend);
  }, SLOW);

  it('bundles smoothxent/tfjs with esbuild without any of tfjs (the caller brings it)', async () => {
    const result = await esbuild({
      absWorkingDir: projectDir,
      entryPoints: ['tfjs-app.mjs'],
      outdir: join(projectDir, 'out-esbuild-tfjs'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('node_modules/smoothxent/dist/tfjs/index.js');
    expect(inputs.filter((p) => !/^(tfjs-app\.mjs|node_modules\/smoothxent\/)/.test(p))).toEqual([]);
  });

  it('builds with Vite and runs in Chromium', async () => {
    await viteBuild({
      root: projectDir,
      configFile: false,
      logLevel: 'silent',
      base: './',
      build: { outDir: 'out-vite', emptyOutDir: true },
    });
    const anchor = await runInChromium('out-vite/');
    expectAnchor(anchor);
    expect(poolOf(anchor)).toEqual(PAGE_POOL);
    expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(anchor.backend);
  }, SLOW);
});
