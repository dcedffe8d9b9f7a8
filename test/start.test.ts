/**
 * `npm start` builds only what changed (scripts/build-if-needed.mjs): on a scratch package
 * whose steps log when they run, then on this repository (after `npm run build`, which
 * `npm test` runs first, there is nothing to build), and the demo says which backend `auto`
 * picked.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIfNeeded, STEPS } from '../scripts/build-if-needed.mjs';
import { repoRoot } from '../scripts/web-lib.mjs';

describe('buildIfNeeded on a scratch package', () => {
  const root = mkdtempSync(join(tmpdir(), 'smoothxent-start-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // Step a: in/ → mid/a.txt; step b: mid/a.txt → out/b.txt; step c: not listed, so always run.
  const step = (name: string, output: string) => `node -e "require('fs').appendFileSync('ran.log','${name}\\\\n');require('fs').mkdirSync(require('path').dirname('${output}'),{recursive:true});require('fs').writeFileSync('${output}','x')"`;
  writeFileSync(join(root, 'package.json'), JSON.stringify({
    name: 'scratch',
    private: true,
    scripts: { build: 'npm run build:a && npm run build:b && npm run build:c', 'build:a': step('a', 'mid/a.txt'), 'build:b': step('b', 'out/b.txt'), 'build:c': step('c', 'out/c.txt') },
  }));
  mkdirSync(join(root, 'in'));
  writeFileSync(join(root, 'in', 'source.txt'), 'v1');
  const steps = { 'build:a': { inputs: ['in'], outputs: ['mid/a.txt'] }, 'build:b': { inputs: ['mid/a.txt'], outputs: ['out/b.txt'] } };
  const build = () => {
    writeFileSync(join(root, 'ran.log'), '');
    const lines: string[] = [];
    const ran = buildIfNeeded(root, { steps, log: (line: string) => lines.push(line) });
    return { ran, lines, logged: readFileSync(join(root, 'ran.log'), 'utf8').split('\n').filter(Boolean) };
  };
  /** Sets a file's modification time to `seconds` from now (no waiting for the clock). */
  const touch = (path: string, seconds: number) => {
    const when = new Date(Date.now() + seconds * 1000);
    utimesSync(join(root, path), when, when);
  };

  it('runs every step on a fresh checkout (outputs missing)', () => {
    const { ran, logged, lines } = build();
    expect(ran).toEqual(['build:a', 'build:b', 'build:c']);
    expect(logged).toEqual(['a', 'b', 'c']);
    expect(lines[0]).toMatch(/build:a \(mid\/a\.txt is missing\)/);
  });

  it('then only the unlisted step, which it says it always runs', () => {
    const { ran, lines } = build();
    expect(ran).toEqual(['build:c']);
    expect(lines[0]).toMatch(/build:c \(no inputs and outputs listed/);
  });

  it('an edited input reruns its step and the steps that depend on its output', () => {
    // The last build was 100 s ago, the source edited 50 s ago: a, then b (a's output is new).
    touch('mid/a.txt', -100);
    touch('out/b.txt', -100);
    touch('in/source.txt', -50);
    expect(build().ran).toEqual(['build:a', 'build:b', 'build:c']);
    // Only b's output older than its input: b (and c).
    touch('out/b.txt', -100);
    expect(build().ran).toEqual(['build:b', 'build:c']);
  });
});

describe('npm start on this repository', () => {
  it('lists an entry for every step of npm run build', () => {
    const { scripts } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const chained = [...scripts.build.matchAll(/npm run ([\w:.-]+)/g)].map((match) => match[1]);
    expect(chained.filter((name) => !(name in STEPS))).toEqual([]);
    expect(scripts.start).toBe('node scripts/start.mjs');
  });

  it('has nothing to build after npm run build (npm test builds first)', () => {
    const run = spawnSync(process.execPath, [join(repoRoot, 'scripts/start.mjs'), '--dry-run'], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr.trim()).toBe('npm start: dist/ is up to date: nothing to build');
  });

  it('says which backend createXent() picked', () => {
    const run = spawnSync(process.execPath, [join(repoRoot, 'dist/demo.js')], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/createXent\(\) picked (wasm-relaxed-simd|wasm-simd) here/);
  });
});
