// Types of web-lib.mjs, for the TypeScript tests that import it.
import type { BuildContext } from 'esbuild';

export declare const repoRoot: string;
export declare function buildWebPage(options?: { outdir?: string; minify?: boolean }): Promise<string>;
export declare function watchWebPage(options?: { outdir?: string }): Promise<BuildContext>;
export declare function serveDirectory(
  dir: string,
  options?: { host?: string; port?: number; headers?: Record<string, string> },
): Promise<{ url: string; close(): Promise<void> }>;
export declare const CROSS_ORIGIN_ISOLATION: Record<string, string>;
