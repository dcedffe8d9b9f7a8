/**
 * smoothxent/tfjs in headless Chromium: TensorFlow.js 4.22 on its cpu and wasm backends (the
 * page is test/browser/tfjs-entry.ts, bundled by esbuild; tfjs-backend-wasm's .wasm files
 * are served next to it), running the same checks as the Node test (tfjs-cases.ts,
 * tfjs-training.ts): tf.grad against tfjs's own loss, the float64 reference, model.fit twice,
 * tensor leaks over 100 steps, named errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { repoRoot, serveDirectory } from '../scripts/web-lib.mjs';
import type { TfjsBrowserTestApi } from './browser/tfjs-entry.js';
import { launchChromium, openPage } from './browser/chromium.js';
import { expectFitsAsTfjs, expectMatchesTfjs, expectNamedErrors, expectNoLeaks } from './tfjs-expect.js';

const SLOW = 300_000;
const require = createRequire(import.meta.url);
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

let workDir: string;
let server: { url: string; close(): Promise<void> };
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchChromium();
  workDir = await mkdtemp(join(tmpdir(), 'smoothxent-tfjs-browser-'));
  await mkdir(join(workDir, 'tfjs-wasm'), { recursive: true });
  await copyFile(join(repoRoot, 'test/browser/tfjs.html'), join(workDir, 'index.html'));
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  for (const file of WASM_FILES) await copyFile(join(wasmDir, file), join(workDir, 'tfjs-wasm', file));
  await build({
    entryPoints: [join(repoRoot, 'test/browser/tfjs-entry.ts')],
    outfile: join(workDir, 'tfjs.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning',
  });
  server = await serveDirectory(workDir);
  ({ page, errors } = await openPage(browser, server.url));
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 60_000 });
}, SLOW);

afterAll(async () => {
  await page?.close();
  await browser?.close();
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const run = (...args: Parameters<TfjsBrowserTestApi['run']>) =>
  page.evaluate(
    (a) => (window as unknown as { smoothxentTfjsTest: TfjsBrowserTestApi }).smoothxentTfjsTest.run(...a),
    args,
  ) as ReturnType<TfjsBrowserTestApi['run']>;

for (const tfjsBackend of ['cpu', 'wasm'] as const) {
  for (const backend of [undefined, 'js'] as const) {
    describe(`tfjs-${tfjsBackend} in Chromium, smoothxent ${backend ?? 'auto'}`, () => {
      let outcome: Awaited<ReturnType<typeof run>>;
      beforeAll(async () => {
        outcome = await run(tfjsBackend, backend);
      }, SLOW);

      it('runs on the backends asked for (tfjs-wasm with SIMD, smoothxent auto on a SIMD build)', () => {
        expect(outcome.tfjsBackend).toBe(tfjsBackend);
        if (tfjsBackend === 'wasm') expect(outcome.wasmSimd).toBe(true);
        if (backend) expect(outcome.backend).toBe(backend);
        else expect(['wasm-relaxed-simd', 'wasm-simd']).toContain(outcome.backend);
      });

      it("tf.grad matches tfjs's own formulation within 1e-6, and the float64 reference", () => {
        expectMatchesTfjs(outcome.comparisons, outcome.reference);
      });

      it('model.fit twice from the same weights: per-epoch losses within 1e-5, weights within 1e-4', () => {
        expectFitsAsTfjs(outcome.fit, 20);
      });

      it('leaks no tensor in 100 training steps, and gives the named errors', () => {
        expectNoLeaks(outcome.leaks);
        expectNamedErrors(outcome.errors);
      });
    });
  }
}

it('logged no page errors', () => {
  expect(errors).toEqual([]);
});
