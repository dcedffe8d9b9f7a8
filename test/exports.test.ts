/**
 * Every export of the package is documented: for each entry point of package.json's
 * "exports" (".", and any subpath added later), the names its source module exports —
 * values and types, as the TypeScript compiler sees them — must each appear in README.md
 * inside a code span (`name`, `name(…)`, `import { name }` …) or a heading. Adding an export
 * or an entry point needs no change here, only its line in the README.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };

/** Entry point → its TypeScript source: dist/x.js (the ESM default) ↔ src/x.ts. */
function entryPoints(): { subpath: string; source: string }[] {
  const entries: { subpath: string; source: string }[] = [];
  for (const [subpath, target] of Object.entries(packageJson.exports)) {
    const file = typeof target === 'string' ? target : (target as { import?: { default?: string } }).import?.default;
    if (!file || !file.startsWith('./dist/') || !file.endsWith('.js')) continue;
    entries.push({ subpath, source: path.join(root, 'src', file.slice('./dist/'.length).replace(/\.js$/, '.ts')) });
  }
  return entries;
}

/** The names a module exports (values and types), from the compiler's view of it. */
function exportedNames(source: string): string[] {
  const program = ts.createProgram([source], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(source);
  if (!file) throw new Error(`cannot read ${source}`);
  const moduleSymbol = checker.getSymbolAtLocation(file);
  if (!moduleSymbol) throw new Error(`${source} is not a module`);
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => symbol.getName()).sort();
}

/** Code spans and headings of the README, where an export counts as documented. */
const documented = [
  ...[...readme.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]),
  ...readme.split('\n').filter((line) => /^#{1,6} /.test(line)),
];
const isDocumented = (name: string) => documented.some((text) => new RegExp(`(^|[^\\w$])${name.replace(/\$/g, '\\$')}($|[^\\w$])`).test(text));

describe.each(entryPoints())("package entry point '$subpath'", ({ subpath, source }) => {
  const names = exportedNames(source);

  it('exports something, and every runtime export is one the compiler lists', async () => {
    expect(names.length).toBeGreaterThan(0);
    const runtime = Object.keys(await import(source));
    expect(runtime.filter((name) => !names.includes(name))).toEqual([]);
  });

  it('names every export in README.md (a code span or a heading)', () => {
    const missing = names.filter((name) => !isDocumented(name));
    expect(missing, `undocumented exports of '${subpath}' (${path.relative(root, source)})`).toEqual([]);
  });
});
