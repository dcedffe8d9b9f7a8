/**
 * The page's number formatting and its kernel-vs-explain() check (web/format.ts): infinities
 * are shown as ∞ and compared as equal, NaN is never an agreement.
 */
import { describe, expect, it } from 'vitest';
import { compareValues, formatNumber } from '../web/format.js';

describe('compareValues', () => {
  it('agrees within 1e-6 relative for finite values, and says by how much', () => {
    expect(compareValues(0.62790006, 0.6279)).toEqual({ agrees: true, difference: '|Δ| = 6.0e-8' });
    expect(compareValues(0.6289, 0.6279).agrees).toBe(false);
  });

  it('takes +∞ against +∞ as agreement ("both ∞"), not |∞ − ∞| = NaN', () => {
    expect(compareValues(Infinity, Infinity)).toEqual({ agrees: true, difference: 'both ∞' });
    expect(compareValues(-Infinity, -Infinity)).toEqual({ agrees: true, difference: 'both −∞' });
    expect(compareValues(Infinity, -Infinity).agrees).toBe(false);
    expect(compareValues(Infinity, 3).agrees).toBe(false);
  });

  it('never takes NaN as agreement, not even NaN against NaN', () => {
    expect(compareValues(Number.NaN, 0.5)).toEqual({ agrees: false, difference: 'NaN vs 0.5000' });
    expect(compareValues(Number.NaN, Number.NaN).agrees).toBe(false);
    expect(compareValues(0.5, Number.NaN).agrees).toBe(false);
  });
});

describe('formatNumber', () => {
  it('spells out ±∞ and NaN, and uses a real minus sign', () => {
    expect([Infinity, -Infinity, Number.NaN, -1.5, -0.00001].map((v) => formatNumber(v))).toEqual(['∞', '−∞', 'NaN', '−1.5000', '0.0000']);
  });
});
