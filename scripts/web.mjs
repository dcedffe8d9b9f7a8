// `npm run web`: build the page into web-dist/, rebuild on change, serve it on localhost.
// Port: `--port N` or $PORT (default 8080; 0 picks a free one).
import { join } from 'node:path';
import { repoRoot, serveDirectory, watchWebPage } from './web-lib.mjs';

const portFlag = process.argv.indexOf('--port');
const port = Number(portFlag > 0 ? process.argv[portFlag + 1] : (process.env.PORT ?? 8080));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`web: the port must be an integer in [0, 65535], got ${port}`);
  process.exit(1);
}

const outdir = join(repoRoot, 'web-dist');
const ctx = await watchWebPage({ outdir });
const server = await serveDirectory(outdir, { port });
console.log(`smoothxent page: ${server.url}  (rebuilds on change; Ctrl+C stops)`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await ctx.dispose();
    await server.close();
    process.exit(0);
  });
}
