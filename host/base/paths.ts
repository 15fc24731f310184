import { fileURLToPath } from 'node:url';

/**
 * The installed package's root: formats are read from schemas/, the agent from dist/. Compiled
 * code runs from dist/host/base/ and the bundled command line from dist/bundle/ (see
 * host/cli/bundle.mjs), so the root is found as the parent of the dist/ this file is in.
 */
export const PACKAGE_ROOT = fileURLToPath(import.meta.url.slice(0, import.meta.url.lastIndexOf('/dist/') + 1));

export const packagePath = (...parts: string[]) => [PACKAGE_ROOT.replace(/\/$/, ''), ...parts].join('/');
