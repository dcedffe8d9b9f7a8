/**
 * `npm start` builds only what changed (scripts/build-if-needed.mjs): on a scratch package
 * whose steps log when they run, then on this repository (after `npm run build`, which
 * `npm test` runs first, there is nothing to build), and the demo says which backend `auto`
 * picked, then answers the seed's questions 4 and 5 with the library's numbers.
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

  // The demo, run once for the tests below.
  let demo: { status: number | null; stdout: string } | undefined;
  const runDemo = () => (demo ??= spawnSync(process.execPath, [join(repoRoot, 'dist/demo.js')], { cwd: repoRoot, encoding: 'utf8' }));
  /** The rows of the table under the section whose title starts with `title`: cells split at 2+ spaces. */
  const tableOf = (title: string) => {
    const lines = runDemo().stdout.split('\n');
    const start = lines.findIndex((line) => line.startsWith(title));
    expect(start, `section "${title}"`).toBeGreaterThan(0);
    const header = lines.findIndex((line, i) => i > start + 1 && /^ {2}\S+ {2,}\S/.test(line));
    const rows: string[][] = [];
    for (let i = header + 1; i < lines.length && /^ {2}[\d.]+ {2,}/.test(lines[i]); i++) rows.push(lines[i].trim().split(/ {2,}/));
    return rows;
  };

  it('says which backend createXent() picked', () => {
    const run = runDemo();
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/createXent\(\) picked (wasm-relaxed-simd|wasm-simd) here/);
  });

  it("answers the seed's question 4: p_top = 1 − ε + ε/K at the optimum, for K = 4, 10, 1000", () => {
    const rows = tableOf('9. Question 4');
    expect(rows.map((row) => row[0])).toEqual(['4', '10', '1000']);
    // K, gap, closed form, the library at the gap, largest gradient there.
    expect(rows.map((row) => row[2])).toEqual(['0.9250', '0.9100', '0.9001']);
    expect(rows.map((row) => row[3])).toEqual(['0.9250', '0.9100', '0.9001']);
    expect(rows.map((row) => row[1])).toEqual(['3.6109', '4.5109', '9.1051']); // log 37, log 91, log 9001
    for (const row of rows) expect(Number(row[4])).toBeLessThan(1e-6);
  });

  it("answers question 5: smoothing lowers the confidence, temperature scaling lowers every ECE", async () => {
    const rows = tableOf('10. Question 5').map((row) => row.map(Number));
    // ε, train accuracy, accuracy, mean confidence, ECE, T, mean confidence at T, ECE at T.
    expect(rows.map((row) => row[0])).toEqual([0, 0.1, 0.3]);
    const [hard, smoothed, heavy] = rows;
    expect(hard[3]).toBeGreaterThan(hard[2] + 0.1); // over-confident
    expect(smoothed[3]).toBeLessThan(hard[3]);
    expect(smoothed[4]).toBeLessThan(hard[4]);
    expect(heavy[3]).toBeLessThan(heavy[2]); // under-confident
    expect(hard[5]).toBeGreaterThan(1);
    expect(heavy[5]).toBeLessThan(1);
    for (const row of rows) expect(row[7]).toBeLessThanOrEqual(row[4]);
    // The printed figures are the library's, on the backend the demo picked.
    const { createXent } = await import('../src/index.js');
    const { studyCalibration, weatherData } = await import('../src/calibration-demo.js');
    const backend = /createXent\(\) picked ([\w-]+) here/.exec(runDemo().stdout)?.[1];
    const xent = await createXent({ backend: backend as 'wasm-simd' });
    const data = weatherData();
    for (const row of rows) {
      const study = studyCalibration(xent, data, row[0]);
      expect(row.slice(1)).toEqual([
        study.trainAccuracy, study.test.accuracy, study.test.meanConfidence, study.test.ece,
        study.fit.temperature, study.calibrated.meanConfidence, study.calibrated.ece,
      ].map((x, i) => Number(x.toFixed(i === 4 ? 3 : 4))));
    }
  });
});
