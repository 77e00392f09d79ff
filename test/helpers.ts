import { expect } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

export function tempDir(prefix = 'sbx-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The built CLI over stdio, driven by the SDK's own client. */
export async function stdioClient(env: Record<string, string> = {}, args: string[] = []) {
  const stderr: string[] = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...args],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      SANDBOX_WARM_POOL: '0',
      ...env,
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const client = new Client({ name: 'sandbox-mcp-tests', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr, pid: transport.pid! };
}

export interface HttpServer {
  url: string;
  port: number;
  proc: ChildProcess;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The built CLI serving HTTP on --port 0; resolves once the "listening" log line names the URL. */
export async function startHttpServer(env: Record<string, string> = {}, args: string[] = []): Promise<HttpServer> {
  const proc = spawn(process.execPath, [CLI, '--port', '0', ...args], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      SANDBOX_WARM_POOL: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join('\n')}`)), 20_000);
    readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
      logs.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) {
          clearTimeout(timer);
          resolve(rec.url);
        }
      } catch {
        /* plain text */
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    logs,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

export async function httpClient(url: string, headers: Record<string, string> = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'sandbox-mcp-tests', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

export type ToolResult = CallToolResult & { structuredContent?: Record<string, unknown> };

/** Either SDK's client (v1 for 2025-era tests, v2 for 2026-07-28 ones): all `call` needs. */
export interface ToolCaller {
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
}

export async function call(client: ToolCaller, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

export function text(r: ToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

/** shell_exec, asserting the call itself succeeded; returns the structured result. */
export async function sh(client: ToolCaller, command: string, extra: Record<string, unknown> = {}) {
  const r = await call(client, 'shell_exec', { command, ...extra });
  if (r.isError) throw new Error(`shell_exec failed: ${text(r)}`);
  return r.structuredContent as {
    exitCode: number | null;
    stdout: string;
    stderr: string;
    timedOut: boolean;
    truncated: boolean;
    droppedBytes: number;
    durationMs: number;
    signal: string | null;
  };
}

/** Host processes whose command line contains `marker`. */
export async function hostProcessesWith(marker: string): Promise<string[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && Number(pid) !== process.pid) found.push(`${pid}: ${cmd}`);
    } catch {
      /* exited */
    }
  }
  return found;
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  stepMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Whether this machine can isolate with `method`; tests needing it skip (with a printed reason) if not. */
export function isolationSkipReason(method: 'bwrap' | 'unshare'): string | undefined {
  const probe =
    method === 'bwrap'
      ? spawnSync(
          'bwrap',
          ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'],
          { stdio: 'ignore' },
        )
      : spawnSync('unshare', ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--net', 'true'], {
          stdio: 'ignore',
        });
  if (probe.status === 0) return undefined;
  const reason = `${method} cannot create namespaces on this machine (${method === 'bwrap' ? 'apt-get install bubblewrap' : 'enable unprivileged user namespaces'})`;
  console.warn(`skipped: ${reason}`);
  return reason;
}

/**
 * A shell_exec cancelled a few ms after it was sent, before its command can have started: the command
 * must never run (it would write `marker` after 1 s) and nothing may be left running.
 */
export async function expectEarlyCancelNeverRuns(client: Client, processGoneMs: number): Promise<void> {
  const marker = `early-${Date.now()}`;
  const ac = new AbortController();
  const pending = client.callTool(
    { name: 'shell_exec', arguments: { command: `sleep 1; touch ${marker}; sleep 120` } },
    undefined,
    { signal: ac.signal },
  );
  setTimeout(() => ac.abort(), 5);
  await expect(pending).rejects.toThrow();
  await new Promise((r) => setTimeout(r, 3000));
  const after = await call(client, 'shell_exec', { command: `ls ${marker} 2>&1; true` });
  expect(after.structuredContent!.stdout).toMatch(/No such file/);
  await waitFor(async () => (await hostProcessesWith(marker)).length === 0, processGoneMs);
}

/** shell_write to a process that never reads: 10 MiB is held for it, a second 10 MiB is refused with a hint. */
export async function expectUnreadInputCapped(client: Client): Promise<void> {
  const start = await call(client, 'shell_start', { command: 'sleep 100' });
  const processId = start.structuredContent!.processId as string;
  const chunk = 'x'.repeat(10 * 1024 * 1024);
  expect((await call(client, 'shell_write', { processId, input: chunk })).isError).toBeFalsy();
  const second = await call(client, 'shell_write', { processId, input: chunk });
  expect(second.isError).toBe(true);
  expect(text(second)).toMatch(/not reading its input: \d+ bytes sent earlier are still waiting.*shell_kill/s);
  await call(client, 'shell_kill', { processId, signal: 'SIGKILL' });
}
