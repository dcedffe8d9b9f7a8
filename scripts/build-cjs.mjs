// CommonJS entries for `require('smoothxent')` and `require('smoothxent/tfjs')` on Node 20
// (run after build:ts).
//
// 1. dist/index.cjs: esbuild bundles the ESM output dist/index.js into one CommonJS
//    file (the package has no runtime dependency to keep external).
//    dist/tfjs/index.cjs: the adapter's few KB, with its imports of the core
//    (`../index.js`) turned into `require('../index.cjs')`: the subpath shares the main
//    CommonJS entry instead of bundling a second copy, so a program that requires both
//    holds the embedded wasm binaries (~85 KB of the 130 KB) and the compiled-module cache
//    once. TensorFlow.js is never bundled: the adapter imports only its types (a run-time
//    import of @tensorflow/* fails this build).
// 2. dist/**/*.d.cts: a CommonJS twin of every declaration file, with relative
//    imports pointing at `.cjs` (TypeScript maps those to the `.d.cts` files). A
//    `require` consumer under moduleResolution node16/nodenext then sees CommonJS
//    types, not ESM types that "masquerade" as CommonJS.
import { build } from 'esbuild';
import { readdir, readFile, writeFile, access } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

try {
  await access(join(dist, 'index.js'));
} catch {
  console.error('build-cjs: dist/index.js is missing; run `npm run build:ts` first.');
  process.exit(1);
}

await build({
  entryPoints: [join(dist, 'index.js')],
  outfile: join(dist, 'index.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});

/** Resolves the adapter's imports of the core to the main CommonJS entry; refuses tfjs. */
const shareCoreEntry = {
  name: 'share-core-entry',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/index\.js$/ }, () => ({ path: '../index.cjs', external: true }));
    build.onResolve({ filter: /^@tensorflow\// }, (args) => ({
      errors: [{ text: `${args.importer} imports ${args.path} at run time; the tfjs adapter may import tfjs types only` }],
    }));
  },
};

await build({
  entryPoints: [join(dist, 'tfjs/index.js')],
  outfile: join(dist, 'tfjs/index.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [shareCoreEntry],
  logLevel: 'warning',
});

/** Every `*.d.ts` under `dir`, recursively. */
async function declarationFiles(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await declarationFiles(path)));
    else if (entry.name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

// `from './x.js'`, `import('./x.js')` and `from "../y/index.js"` → `.cjs`; bare specifiers stay.
const relativeJsSpecifier = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.js(['"])/g;

for (const file of await declarationFiles(dist)) {
  const source = await readFile(file, 'utf8');
  await writeFile(file.replace(/\.d\.ts$/, '.d.cts'), source.replace(relativeJsSpecifier, '$1$2.cjs$3'));
}
