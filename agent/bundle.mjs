#!/usr/bin/env node
// Bundles the agent into dist/agent.js with frida-compile. The agent imports the generated views
// in host/schema/, and frida-compile takes every source from under its project root, so the root
// is the repository's; frida-compile reads its compiler options from the root's tsconfig.json,
// which is the host's, so it is shown the agent's instead.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, queryDefaultAssets } from 'frida-compile';
import { getNodeSystem } from 'frida-compile/dist/system/node.js';
import ts from 'frida-compile/ext/typescript.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const nodeSystem = getNodeSystem();
const rootConfig = join(root, 'tsconfig.json');
const system = {
  ...nodeSystem,
  readFile: (path, encoding) => nodeSystem.readFile(path === rootConfig ? join(here, 'tsconfig.json') : path, encoding),
};

const bundle = build({
  projectRoot: root,
  entrypoint: 'agent/index.ts',
  sourceMaps: 'omitted',
  compression: 'terser',
  assets: queryDefaultAssets(root, system),
  system,
  onDiagnostic({ file, start, messageText }) {
    const message = ts.flattenDiagnosticMessageText(messageText, '\n');
    if (file === undefined) {
      console.error(message);
      return;
    }
    const { line, character } = ts.getLineAndCharacterOfPosition(file, start);
    console.error(`${file.fileName} (${line + 1},${character + 1}): ${message}`);
  },
});
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'agent.js'), bundle);
