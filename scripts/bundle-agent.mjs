#!/usr/bin/env node
// Bundles the in-sandbox agent (src/agent/main.ts and what it imports) into one CommonJS file,
// dist/agent/main.cjs: a sandbox starts cold faster and idles smaller when Node loads one file without
// its ES module loader. The search worker stays the separate file tsc emits (dist/agent/search-worker.js).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'src/agent/main.ts')],
  outfile: path.join(root, 'dist/agent/main.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import.meta.url locates the search worker beside the bundle.
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': 'importMetaUrl' },
  logLevel: 'warning',
});
