/**
 * The exp both kernels are built on (assembly/exp.ts and src/js/rows.ts): relative error
 * against Math.exp over a dense sweep of [−87.34, 0], exact 0 below the cutoff and for
 * −∞, NaN kept. The softmax's accuracy bars rest on this one.
 */
import { describe, expect, it } from 'vitest';
import { expMinus } from '../src/js/rows.js';

/** Below this the wasm kernels return exactly 0 (2^n would be subnormal in float32). */
const EXP_CUTOFF = -87.3365402;
import { compile, instantiateWith } from '../src/wasm/load.js';
import { testsRelaxed } from './backends.js';

const POINTS = 400_000;

/** f32 inputs x_i = v_i − 1 as the wasm floor pass sees them (v − 1 rounds once to f32). */
function sweep(): { v: Float32Array; x: Float64Array } {
  const v = new Float32Array(POINTS);
  const x = new Float64Array(POINTS);
  for (let i = 0; i < POINTS; i++) {
    v[i] = 1 + EXP_CUTOFF * (i / (POINTS - 1)) * 0.99999;
    x[i] = Math.fround(v[i] - 1);
  }
  return { v, x };
}

function maxRelativeError(got: ArrayLike<number>, x: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const truth = Math.exp(x[i]);
    worst = Math.max(worst, Math.abs(got[i] - truth) / truth);
  }
  return worst;
}

describe('exp (JS fallback)', () => {
  it('is within 2e-7 relative over [−87.34, 0]', () => {
    const { x } = sweep();
    const got = Float64Array.from(x, expMinus);
    expect(maxRelativeError(got, x)).toBeLessThan(2e-7);
  });
  it('gives 0 for −∞ (in float32), a float32 subnormal at most below the cutoff, 1 at 0, NaN for NaN', () => {
    expect(Math.fround(expMinus(-Infinity))).toBe(0);
    expect(Math.fround(expMinus(-1e30))).toBe(0);
    expect(expMinus(-88)).toBeLessThan(2 ** -126);
    expect(expMinus(-88)).toBeGreaterThanOrEqual(0);
    expect(expMinus(0)).toBe(1);
    expect(expMinus(NaN)).toBeNaN();
  });
});

// The relaxed binary fuses its multiply-adds; it is checked wherever this runtime runs it (Node
// ≥ 22 by default, Node 20 in npm run test:relaxed).
const kernels = testsRelaxed()
  ? (['wasm', 'wasm-simd', 'wasm-relaxed-simd'] as const)
  : (['wasm', 'wasm-simd'] as const);

describe.each(kernels)('exp (%s kernel)', (name) => {
  it('is within 2e-7 relative over [−87.34, 0] (after rounding to f32)', async () => {
    const module = await compile(name);
    const { exports, memory } = await instantiateWith(module, 1 + Math.ceil((4 * POINTS) / 65536));
    const at = exports.heapBase();
    const { v, x } = sweep();
    new Float32Array(memory.buffer, at, POINTS).set(v);
    exports.expFloor(at, POINTS);
    const got = new Float32Array(memory.buffer, at, POINTS);
    expect(maxRelativeError(got, x)).toBeLessThan(2e-7);
  });
  it('gives exactly 0 for −∞ and below the cutoff, 1 at 0, NaN for NaN', async () => {
    const module = await compile(name);
    const { exports, memory } = await instantiateWith(module, 1);
    const at = exports.heapBase();
    const values = new Float32Array(memory.buffer, at, 8);
    values.set([-Infinity, -100, 1, NaN, -Infinity, -100, 1, NaN]); // x = v − 1
    exports.expFloor(at, 8);
    expect(Array.from(values)).toEqual([0, 0, 1, NaN, 0, 0, 1, NaN]);
  });
});
