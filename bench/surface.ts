import { createRequire } from 'node:module';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { compare, summarize, type BenchRunner } from '../src/ops/stats.js';
import { connectOurs, connectStdio } from './client.js';

const require = createRequire(import.meta.url);
const CONTEXT_TARGET = 20_000;
const RESULT_TARGET = 32 * 1024;

/** Characters of names, descriptions and input schemas: what a model pays for the list on every turn. */
async function listChars(client: Client): Promise<{ tools: number; chars: number }> {
  const { tools } = await client.listTools();
  const chars = tools.reduce(
    (n, t) => n + t.name.length + (t.description ?? '').length + JSON.stringify(t.inputSchema).length,
    0,
  );
  return { tools: tools.length, chars };
}

/** Bytes a result sends of text: its content blocks and structured content, as JSON. */
async function resultBytes(client: Client, name: string, args: Record<string, unknown>): Promise<number> {
  const r = await client.callTool({ name, arguments: args });
  return Buffer.byteLength(JSON.stringify({ content: r.content, structuredContent: r.structuredContent }));
}

function packageBin(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

/**
 * The model-facing surface, as figures rather than times: the tool list's size beside two servers
 * nobody here wrote (playwright-mcp, server-filesystem), and the largest single results (seq 1 400000,
 * a 100k-line file_read) against the result budget. Metrics are characters and bytes, n = 1.
 */
export const surfaceBench: BenchRunner = async ({ stateDir, log }) => {
  const ours = await connectOurs({ SANDBOX_STATE_DIR: stateDir, SANDBOX_WARM_POOL: '0' });
  const playwright = await connectStdio(process.execPath, [packageBin('@playwright/mcp', 'cli.js'), '--headless']);
  const filesystem = await connectStdio(process.execPath, [
    packageBin('@modelcontextprotocol/server-filesystem', 'dist/index.js'),
    stateDir,
  ]);
  try {
    const [us, pw, fs] = [await listChars(ours), await listChars(playwright), await listChars(filesystem)];
    const seq = await resultBytes(ours, 'shell_exec', { command: 'seq 1 400000' });
    await resultBytes(ours, 'shell_exec', { command: 'seq 1 100000 | sed "s/$/ some text on this line/" > big.txt' });
    const read = await resultBytes(ours, 'file_read', { path: 'big.txt' });
    log(`tools/list ${us.chars} chars for ${us.tools} tools; seq result ${seq} B; file_read result ${read} B`);
    return {
      name: 'surface',
      metrics: {
        'tools/list characters, ours': summarize([us.chars]),
        'tools/list characters, playwright-mcp': summarize([pw.chars]),
        'tools/list characters, server-filesystem': summarize([fs.chars]),
        'result bytes, shell_exec seq 1 400000': summarize([seq]),
        'result bytes, file_read of 100k lines': summarize([read]),
      },
      comparisons: [
        compare(
          'tools/list characters',
          us.chars,
          'target',
          CONTEXT_TARGET,
          `<= ${CONTEXT_TARGET}`,
          us.chars <= CONTEXT_TARGET,
        ),
        compare(
          'largest result bytes',
          Math.max(seq, read),
          'budget',
          RESULT_TARGET,
          `<= ${RESULT_TARGET}`,
          Math.max(seq, read) <= RESULT_TARGET,
        ),
      ],
      notes: [
        `figures, not times: ${us.tools} tools of ours, ${pw.tools} of playwright-mcp, ${fs.tools} of server-filesystem`,
        `characters per tool: ours ${Math.round(us.chars / us.tools)}, playwright-mcp ${Math.round(pw.chars / pw.tools)}, server-filesystem ${Math.round(fs.chars / fs.tools)}`,
      ],
    };
  } finally {
    await Promise.all([ours.close(), playwright.close(), filesystem.close()]);
  }
};
