/**
 * A Node module-resolution hook, registered with `module.register` by bench/peers/tfjs.mjs.
 *
 * Why: tfjs-core 4.22's Node bundle (dist/tf-core.node.js) ships without gradient
 * definitions. They are registered by importing
 * `@tensorflow/tfjs-core/dist/register_all_gradients.js`, an ES module whose relative
 * imports have no extension (`import ... from './gradients/Abs_grad'`), which Node's
 * ESM resolver rejects (ERR_MODULE_NOT_FOUND / ERR_UNSUPPORTED_DIR_IMPORT). This hook
 * retries such a relative specifier with `.js`, then `/index.js`, and loads the files of
 * tfjs-core's ESM `dist/` as ES modules (the package has no `"type": "module"`).
 * It touches nothing outside `@tensorflow/`.
 */

const RETRYABLE = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT']);

function isTfjsParent(context) {
  return typeof context.parentURL === 'string' && context.parentURL.includes('/@tensorflow/');
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    if (!relative || !isTfjsParent(context) || !RETRYABLE.has(error?.code)) throw error;
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await nextResolve(specifier + suffix, context);
      } catch {
        // try the next suffix
      }
    }
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  // tfjs-core's dist/*.js (other than the CommonJS bundles tf-core.*.js) are ES modules.
  const esmFile =
    url.startsWith('file:') &&
    url.includes('/@tensorflow/tfjs-core/dist/') &&
    url.endsWith('.js') &&
    !/\/dist\/tf-core[^/]*\.js$/.test(url);
  if (esmFile) return nextLoad(url, { ...context, format: 'module' });
  return nextLoad(url, context);
}
