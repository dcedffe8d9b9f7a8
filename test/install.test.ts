/**
 * `npm install` runs no install script and warns about none: every package in
 * package-lock.json that has one is decided in package.json's "allowScripts" (npm 11 warns
 * "install scripts not yet covered by allowScripts" otherwise). Both are denied: esbuild's
 * only re-checks the platform binary that its optional dependency already installs, and
 * onnxruntime-node's downloads CUDA providers and fails offline (README, "Two commands").
 * And esbuild works without its script: it transforms code here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../scripts/web-lib.mjs';

const read = (file: string) => JSON.parse(readFileSync(join(repoRoot, file), 'utf8'));

describe('install scripts', () => {
  it('every dependency with an install script is decided in allowScripts', () => {
    const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    const allowScripts = (read('package.json') as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    expect(withScripts.filter((name) => !(name in allowScripts))).toEqual([]);
    expect(allowScripts).toEqual({ 'onnxruntime-node': false, esbuild: false });
  });

  it('esbuild works without its postinstall (the binary comes from its optional dependency)', async () => {
    const { code } = await transform('const x: number = 1', { loader: 'ts' });
    expect(code.trim()).toBe('const x = 1;');
  });
});
