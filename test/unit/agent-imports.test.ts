import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// src/agent is mounted alone into every local sandbox and run there by a bare Node.js: it has no
// node_modules and no parent package, so an import of anything but Node's built-ins or its own files
// would fail inside the sandbox only.
const AGENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/agent');

describe('the in-sandbox agent', () => {
  it('imports only node: built-ins and files of its own folder', () => {
    const offending: string[] = [];
    for (const file of readdirSync(AGENT).filter((name) => name.endsWith('.ts'))) {
      const text = readFileSync(path.join(AGENT, file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)) {
        const ownFile = spec!.startsWith('./') && !spec!.slice(2).includes('/');
        if (!spec!.startsWith('node:') && !ownFile) offending.push(`${file}: ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('has no sub-folders (the mount holds this one folder)', () => {
    const folders = readdirSync(AGENT, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    expect(folders.map((entry) => entry.name)).toEqual([]);
  });
});
