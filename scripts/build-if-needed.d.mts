// Types of build-if-needed.mjs, for the TypeScript test that imports it.
export interface Step {
  inputs: string[];
  outputs: string[];
}
export const STEPS: Record<string, Step>;
export function staleness(root: string, step: string, steps?: Record<string, Step>): string | null;
export function buildSteps(root: string): string[];
export function buildIfNeeded(root: string, options?: { steps?: Record<string, Step>; log?: (line: string) => void; dryRun?: boolean }): string[];
