/**
 * The bars of issue 11, asserted the same way by the Node test and the Chromium test on the
 * outcomes of tfjs-cases.ts and tfjs-training.ts: against tfjs 1e-6 (loss relative, gradient
 * relative to its largest entry), the float64 reference within the core's error bars,
 * model.fit per-epoch losses within 1e-5 relative and final weights within 1e-4, no tensor
 * leaked, every bad input its named error.
 */
import { expect } from 'vitest';
import type { Comparison, ErrorOutcome } from './tfjs-cases.js';
import type { FitComparison, LeakCount } from './tfjs-training.js';

export const TFJS_TOLERANCE = 1e-6;

export function expectMatchesTfjs(comparisons: Comparison[], referenceProblems: string[]): void {
  expect(comparisons.length).toBeGreaterThan(30);
  for (const c of comparisons) {
    expect(c.shapeProblems, c.case).toEqual([]);
    expect(c.lossError, c.case).toBeLessThanOrEqual(TFJS_TOLERANCE);
    expect(c.gradError, c.case).toBeLessThanOrEqual(TFJS_TOLERANCE);
  }
  expect(referenceProblems).toEqual([]);
}

export function expectFitsAsTfjs(fit: FitComparison, epochs: number): void {
  expect(fit.ours).toHaveLength(epochs);
  expect(fit.lossError, JSON.stringify(fit)).toBeLessThanOrEqual(1e-5);
  expect(fit.weightError, JSON.stringify(fit)).toBeLessThanOrEqual(1e-4);
  expect(fit.ours[epochs - 1]).toBeLessThan(0.8 * fit.ours[0]); // it learned something
}

export function expectNoLeaks(counts: LeakCount[]): void {
  expect(counts.map((c) => c.case)).toContain('model.fit, smoothxent');
  for (const c of counts) {
    if (c.case.includes('(control)')) continue; // tfjs's own loss: reported, not ours to fix
    expect(c.after, `${c.case}: ${c.before} tensors before, ${c.after} after`).toBe(c.before);
  }
}

export function expectNamedErrors(outcomes: ErrorOutcome[]): void {
  expect(outcomes.length).toBeGreaterThan(25);
  for (const o of outcomes) expect(`${o.name}: ${o.message}`, o.case).toMatch(new RegExp(o.expected));
}
