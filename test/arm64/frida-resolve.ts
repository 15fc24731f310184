// The module resolution hook frida-loader.ts registers.
import type { ResolveHook } from 'node:module';

export const resolve: ResolveHook = (specifier, context, next) =>
  specifier === 'frida' ? { url: new URL('./qemu-frida.js', import.meta.url).href, shortCircuit: true } : next(specifier, context);
