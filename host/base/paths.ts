import { fileURLToPath } from 'node:url';

/** The installed package's root: compiled code runs from dist/host/base/, formats are read from schemas/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const packagePath = (...parts: string[]) => [PACKAGE_ROOT.replace(/\/$/, ''), ...parts].join('/');
