// Incremental build for `npm start`: run the steps of `npm run build` whose outputs are not
// current. The steps are the npm scripts that package.json's "build" chains, so a step added
// there runs here too. A step with known inputs and outputs runs only when an output is
// missing or older than an input (make's rule, on modification times: a checkout or an edit
// touches what it changes), so a current dist/ costs nothing, and a step that runs makes the
// next ones stale in turn. A step without an entry always runs, with a note saying so.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** This package's build steps: inputs (files, or directories searched recursively) and outputs. */
export const STEPS = {
  'build:wasm': {
    inputs: ['assembly', 'asconfig.json', 'scripts/build-wasm.mjs', 'package-lock.json'],
    outputs: ['src/wasm/binaries.generated.ts', 'build/xent.wasm', 'build/xent-simd.wasm', 'build/xent-relaxed-simd.wasm'],
  },
  'build:worker': {
    // The worker bundles what src/threads/worker.ts imports from src/; its output lives there too,
    // so the newest file under src/ decides (build:wasm's binaries.generated.ts comes first).
    inputs: ['src', 'scripts/build-worker.mjs', 'package-lock.json'],
    outputs: ['src/threads/worker.generated.ts'],
  },
  'build:ts': {
    inputs: ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'],
    outputs: ['dist/index.js', 'dist/index.d.ts', 'dist/demo.js'],
  },
  'build:cjs': {
    inputs: ['dist/index.js', 'scripts/build-cjs.mjs'],
    outputs: ['dist/index.cjs', 'dist/index.d.cts'],
  },
};

/** Modification times (ms) of a file, or of every file under a directory. */
function times(root, path) {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  const stat = statSync(full);
  if (!stat.isDirectory()) return [stat.mtimeMs];
  return readdirSync(full).flatMap((name) => times(root, join(path, name)));
}

/** Why `step` must run, or null when its outputs are current. */
export function staleness(root, step, steps = STEPS) {
  const known = steps[step];
  if (!known) return 'no inputs and outputs listed for it in scripts/build-if-needed.mjs: always run';
  const missing = known.outputs.find((output) => !existsSync(join(root, output)));
  if (missing) return `${missing} is missing`;
  const oldestOutput = Math.min(...known.outputs.flatMap((output) => times(root, output)));
  const changed = known.inputs.find((input) => Math.max(...times(root, input)) > oldestOutput);
  return changed ? `${changed} changed since the last build` : null;
}

/** The npm scripts that package.json's "build" runs, in order. */
export function buildSteps(root) {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return [...scripts.build.matchAll(/npm run ([\w:.-]+)/g)].map((match) => match[1]);
}

/** Runs the stale steps; `log` gets one line per step run (and why) and a summary. */
export function buildIfNeeded(root, { steps = STEPS, log = (line) => console.error(line), dryRun = false } = {}) {
  const names = buildSteps(root);
  const ran = [];
  for (const step of names) {
    const why = staleness(root, step, steps);
    if (why === null) continue;
    log(`${dryRun ? 'would run' : 'running'} ${step} (${why})`);
    if (!dryRun) runScript(root, step);
    ran.push(step);
  }
  log(ran.length === 0 ? 'dist/ is up to date: nothing to build' : `${dryRun ? 'would run' : 'ran'} ${ran.length} of ${names.length} build steps`);
  return ran;
}

function runScript(root, step) {
  // Under npm, npm_execpath is npm's own CLI: run the step with that npm, without a shell.
  const npm = process.env.npm_execpath;
  if (npm) execFileSync(process.execPath, [npm, 'run', '--silent', step], { cwd: root, stdio: 'inherit' });
  else execFileSync('npm', ['run', '--silent', step], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
}
