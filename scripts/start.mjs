// `npm start`: bring dist/ up to date (only the build steps whose inputs changed: see
// build-if-needed.mjs), then run the worked example, dist/demo.js. `--dry-run` only says
// which steps would run.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIfNeeded } from './build-if-needed.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dryRun = process.argv.includes('--dry-run');
const started = performance.now();
buildIfNeeded(root, { dryRun, log: (line) => console.error(`npm start: ${line}`) });
if (dryRun) process.exit(0);
console.error(`npm start: build check and build took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

try {
  execFileSync(process.execPath, [join(root, 'dist/demo.js')], { cwd: root, stdio: 'inherit' });
} catch (error) {
  // The demo printed why (a backend disagreed with float64); keep its exit code.
  process.exit(typeof error.status === 'number' ? error.status : 1);
}
