#!/usr/bin/env node
/**
 * Writes the latest benchmark into README.md's Performance section: the markdown tables that
 * report.mjs makes from bench/results.json, between the markers
 *   <!-- bench:start --> … <!-- bench:end -->
 * so that no number in the README is typed by hand. Run after `npm run bench` (and
 * `npm run bench:chart` for bench/chart.svg):  node bench/readme.mjs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { markdownTables } from './report.mjs';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const resultsUrl = new URL('./results.json', import.meta.url);
const readmeUrl = new URL('../README.md', import.meta.url);

const results = JSON.parse(readFileSync(resultsUrl, 'utf8'));
const readme = readFileSync(readmeUrl, 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from < 0 || to < from) throw new Error(`README.md needs the markers ${START} and ${END}`);

const body = [
  `Produced by \`${results.config.command}\` (\`npm run bench\`), written here by \`node bench/readme.mjs\`.`,
  '',
  '![ns per logit, loss + gradient, by method and shape (log scale)](bench/chart.svg)',
  '',
  markdownTables(results).replace(/^### /gm, '#### '),
].join('\n');
writeFileSync(readmeUrl, `${readme.slice(0, from + START.length)}\n${body}\n${readme.slice(to)}`);
console.log(`README.md: Performance section rewritten from ${results.machine.date}`);
