// Types of relaxed-simd.mjs, for the TypeScript tests that import it.
export declare const RELAXED_FLAG: string;
export declare const RELAXED_SIMD_PROBE: Uint8Array;
export declare function relaxedSimdEnabled(): boolean;
