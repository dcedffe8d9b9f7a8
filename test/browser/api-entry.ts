/**
 * The browser test's page script: the library (bundled from src/ by esbuild) and the checks
 * of cases.ts, exposed on `window.smoothxentTest` for the test to call.
 */
import * as lib from '../../src/index.js';
import * as cases from './cases.js';

const api = {
  backendChoice: () => cases.backendChoice(lib),
  anchorOnEveryBackend: () => cases.anchorOnEveryBackend(lib),
  largeBatchAgainstJs: (rows?: number, numClasses?: number) => cases.largeBatchAgainstJs(lib, rows, numClasses),
  errorCases: () => cases.errorCases(lib),
  evaluationOnEveryBackend: () => cases.evaluationOnEveryBackend(lib),
  halfOnEveryBackend: () => cases.halfOnEveryBackend(lib),
};
export type BrowserTestApi = typeof api;

(globalThis as unknown as { smoothxentTest: BrowserTestApi }).smoothxentTest = api;
document.body.dataset.ready = 'true';
