import { accessSync, constants } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { call, hostProcessesWith, sh, text, waitFor, type ToolResult } from './helpers.js';

export const CHROMIUM = process.env.SANDBOX_CHROMIUM_PATH || '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return undefined;
  } catch {
    return `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set SANDBOX_CHROMIUM_PATH)`;
  }
}

/** Writes `files` under /workspace/<dir> and serves them from inside the sandbox on `port`. */
export async function serveInSandbox(
  client: Client,
  port: number,
  files: Record<string, string>,
  dir = 'site',
): Promise<void> {
  for (const [name, body] of Object.entries(files)) {
    const w = await call(client, 'shell_exec', { command: `mkdir -p ${dir} && cat > ${dir}/${name}`, stdin: body });
    if (w.isError) throw new Error(text(w));
  }
  const server = `
const fs = require('fs'), path = require('path');
require('http').createServer((q, s) => {
  const p = decodeURIComponent(q.url.split('?')[0]);
  const f = path.join(${JSON.stringify(dir)}, p === '/' ? 'index.html' : p);
  fs.readFile(f, (e, d) => {
    if (e) { s.statusCode = 404; return s.end('not found'); }
    s.setHeader('content-type', f.endsWith('.json') ? 'application/json' : 'text/html; charset=utf-8');
    s.end(d);
  });
}).listen(${port}, '127.0.0.1', () => console.log('serving'));`;
  await sh(client, `cat > serve-${port}.js`, { stdin: server });
  const start = await call(client, 'shell_start', { command: `node serve-${port}.js`, name: `web-${port}` });
  if (start.isError) throw new Error(text(start));
  const read = await call(client, 'shell_read', { processId: `web-${port}`, until: 'serving', wait_s: 10 });
  if (!String(read.structuredContent?.output ?? '').includes('serving'))
    throw new Error(`server did not start: ${text(read)}`);
}

/** The ref of the first snapshot line matching `pattern`, e.g. /textbox "Name"/. */
export function refOf(snapshot: string, pattern: RegExp): string {
  const line = snapshot.split('\n').find((l) => pattern.test(l));
  const m = line?.match(/\[ref=([A-Za-z0-9_]+)\]/);
  if (!m) throw new Error(`no element matching ${pattern} in:\n${snapshot}`);
  return m[1]!;
}

export function snapshotOf(r: ToolResult): string {
  if (r.isError) throw new Error(`tool failed: ${text(r)}`);
  return String(r.structuredContent?.snapshot ?? '');
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
export function pngSize(b64: string): { width: number; height: number; bytes: number } {
  const buf = Buffer.from(b64, 'base64');
  if (!buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    throw new Error('not a PNG');
  if (buf.subarray(12, 16).toString('latin1') !== 'IHDR') throw new Error('PNG without IHDR first');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), bytes: buf.length };
}

export async function sandboxId(client: Client): Promise<string> {
  return String((await call(client, 'sandbox_info')).structuredContent!.id);
}

/** Host pids of the Chromium processes started for a sandbox (the launcher tags them with its id). */
export async function chromiumPids(id: string): Promise<number[]> {
  return (await hostProcessesWith(`--sandbox-mcp-id=${id}`)).map((l) => Number(l.split(':')[0]));
}

export async function waitNoChromium(id: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await chromiumPids(id)).length === 0, timeoutMs);
}
