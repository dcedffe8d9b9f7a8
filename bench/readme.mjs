#!/usr/bin/env node
/**
 * Writes the latest benchmark into README.md: the Performance section, the markdown tables that
 * report.mjs makes from bench/results.json, between the markers
 *   <!-- bench:start --> … <!-- bench:end -->
 * and bench/threads.json (npm run bench:threads; report.mjs threadsTables) between
 * <!-- threads:start --> and <!-- threads:end -->, so that no number in the README is typed by hand. Run after `npm run bench` (and
 * `npm run bench:chart` for bench/chart.svg):  node bench/readme.mjs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { markdownTables, threadsTables } from './report.mjs';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const THREADS_START = '<!-- threads:start -->';
const THREADS_END = '<!-- threads:end -->';
const resultsUrl = new URL('./results.json', import.meta.url);
const readmeUrl = new URL('../README.md', import.meta.url);

const results = JSON.parse(readFileSync(resultsUrl, 'utf8'));

/** `text` with what lies between the markers `start` and `end` replaced by `body`. */
function between(text, start, end, body) {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md needs the markers ${start} and ${end}`);
  return `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`;
}

const body = [
  `Produced by \`${results.config.command}\` (\`npm run bench\`), written here by \`node bench/readme.mjs\`.`,
  '',
  '![ns per logit, loss + gradient, by method and shape (log scale)](bench/chart.svg)',
  '',
  markdownTables(results).replace(/^### /gm, '#### '),
].join('\n');
let readme = readFileSync(readmeUrl, 'utf8');
readme = between(readme, START, END, body);
const threadsUrl = new URL('./threads.json', import.meta.url);
if (existsSync(threadsUrl)) readme = between(readme, THREADS_START, THREADS_END, threadsTables(JSON.parse(readFileSync(threadsUrl, 'utf8'))));
writeFileSync(readmeUrl, readme);
console.log(`README.md: Performance section and threads summary rewritten from ${results.machine.date}`);
