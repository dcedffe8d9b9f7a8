// The page's build and a small static server, shared by `npm run web`, `npm run build:web`
// and the browser tests (so the tests exercise exactly what the scripts ship).
import { build, context } from 'esbuild';
import { createServer } from 'node:http';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const webSource = join(repoRoot, 'web');

/** esbuild options of the page: web/main.ts (which imports src/ directly) → outdir/main.js + main.css. */
function pageBuildOptions(outdir, minify) {
  return {
    entryPoints: [join(webSource, 'main.ts')],
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: !minify,
    logLevel: 'warning',
  };
}

async function copyStaticFiles(outdir) {
  await mkdir(outdir, { recursive: true });
  await copyFile(join(webSource, 'index.html'), join(outdir, 'index.html'));
}

/** Build the page into `outdir` once (static, servable by any web server). */
export async function buildWebPage({ outdir = join(repoRoot, 'web-dist'), minify = true } = {}) {
  await copyStaticFiles(outdir);
  // Source maps left by a `npm run web` session.
  if (minify) for (const map of ['main.js.map', 'main.css.map']) await rm(join(outdir, map), { force: true });
  await build(pageBuildOptions(outdir, minify));
  return outdir;
}

/** Build the page and keep rebuilding main.js / main.css when a source changes. Returns the esbuild context. */
export async function watchWebPage({ outdir = join(repoRoot, 'web-dist') } = {}) {
  await copyStaticFiles(outdir);
  const ctx = await context(pageBuildOptions(outdir, false));
  await ctx.rebuild();
  await ctx.watch();
  return ctx;
}

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
};

/**
 * Serve the files under `dir` over HTTP (GET only, `/` → index.html, no listing, no caching).
 * `port` 0 picks a free ephemeral port; `headers` go on every file (e.g. COOP/COEP for a
 * cross-origin isolated page, see CROSS_ORIGIN_ISOLATION). Resolves to `{ url, close }`.
 */
export async function serveDirectory(dir, { host = '127.0.0.1', port = 0, headers = {} } = {}) {
  const root = resolve(dir);
  const server = createServer(async (request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    let file = normalize(join(root, pathname));
    if (file !== root && !file.startsWith(root + sep)) return send(response, 403, 'forbidden');
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      response.writeHead(200, {
        ...headers,
        'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch {
      send(response, 404, `not found: ${pathname}`);
    }
  });
  await new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, host, () => resolveListen(undefined));
  });
  const address = server.address();
  const url = `http://${host}:${typeof address === 'object' && address ? address.port : port}/`;
  const close = () =>
    new Promise((resolveClose) => {
      server.closeAllConnections();
      server.close(() => resolveClose(undefined));
    });
  return { url, close };
}

/** The response headers that make a page cross-origin isolated (shared memory for its workers). */
export const CROSS_ORIGIN_ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

function send(response, status, text) {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(text);
}
