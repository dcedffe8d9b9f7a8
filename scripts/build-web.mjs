// `npm run build:web`: the page as a static folder, web-dist/ (index.html, main.js, main.css).
// The wasm binaries travel inside main.js, so any static host serves it as is.
import { buildWebPage } from './web-lib.mjs';

const outdir = await buildWebPage();
console.log(`built the page into ${outdir}`);
