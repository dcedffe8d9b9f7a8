/**
 * Launching the real browser for the browser and consumer tests. A missing Chromium is a
 * failure with instructions, never a skip: these tests are the only proof of the browser half.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium package; override with $CHROMIUM_PATH. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium not found at ${chromiumPath}. The browser tests need a real headless Chromium: ` +
        'install it with `apt-get update && apt-get install -y chromium` (.ci/run does this), ' +
        'or point $CHROMIUM_PATH at a Chromium binary.',
    );
  }
  return chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
}

/** A new page that records uncaught errors and console errors, so a test can assert there were none. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()}`);
  });
  await page.goto(url);
  return { page, errors };
}

type Method = (...args: never[]) => unknown;

/** Calls method `name` of the page's test API, `window[global]`, with `args` (run in the page). */
export type PageCall<Api extends Record<string, Method>> = <K extends keyof Api & string>(
  name: K,
  ...args: Parameters<Api[K]>
) => Promise<Awaited<ReturnType<Api[K]>>>;

/** A typed caller of the test API a page puts on `window[global]`; `page()` is read at each call. */
export function pageCaller<Api extends Record<string, Method>>(page: () => Page, global: string): PageCall<Api> {
  return ((name: string, ...args: unknown[]) =>
    page().evaluate(
      ([api, method, methodArgs]) => (window as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>)[api][method](...methodArgs),
      [global, name, args] as const,
    )) as PageCall<Api>;
}
