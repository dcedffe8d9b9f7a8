// npm run test:relaxed: reruns the Node suites with relaxed SIMD on, so that the
// wasm-relaxed-simd binary is tested where it is off by default (Node 20: V8's
// --experimental-wasm-relaxed-simd). Where this Node already has it (Node ≥ 22), the main
// `vitest run` has tested that binary on every backend loop, so there is nothing to rerun
// (and Node 24 would reject the flag as a bad option).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { relaxedSimdEnabled } from './relaxed-simd.mjs';

if (relaxedSimdEnabled()) {
  console.log(`test:relaxed: Node ${process.version} runs relaxed SIMD by default; the main run tested wasm-relaxed-simd, nothing to rerun.`);
  process.exit(0);
}
// vitest's bin (its package exports do not expose the file to require.resolve).
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const child = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, SMOOTHXENT_RELAXED: '1' },
});
process.exit(child.status ?? 1);
