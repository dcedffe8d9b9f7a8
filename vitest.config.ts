import { defineConfig } from 'vitest/config';

/**
 * SMOOTHXENT_RELAXED=1 (npm run test:relaxed) reruns the Node suites with V8's relaxed-SIMD
 * flag, so the wasm-relaxed-simd binary is tested on Node 20 as well; test/backends.ts then
 * insists that the backend is really there. The browser and consumer tests run once.
 */
const relaxed = process.env.SMOOTHXENT_RELAXED === '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: relaxed ? ['test/browser.test.ts', 'test/browser-threads.test.ts', 'test/tfjs-browser.test.ts', 'test/consumer.test.ts', 'node_modules/**'] : ['node_modules/**'],
    execArgv: relaxed ? ['--experimental-wasm-relaxed-simd'] : [],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
