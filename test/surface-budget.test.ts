import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chromiumMissing } from './browser-helpers.js';
import { call, sh, stdioClient, tempDir, text, type ToolResult } from './helpers.js';

/**
 * The result budget (default 32 KiB, measured on what is sent): a big output keeps its head and tail in
 * the text, leaves the structured content, and its whole is in a file of the sandbox whose path the
 * result gives; reading that file gets everything.
 */
const BUDGET = 32 * 1024;

function sent(r: ToolResult): number {
  return Buffer.byteLength(JSON.stringify({ content: r.content, structuredContent: r.structuredContent }));
}

describe('result budget', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_WARM_POOL: '0' }));
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  /** The spill file's line count and last line, read back through the sandbox. */
  async function spilled(path: unknown): Promise<{ lines: number; last: string }> {
    expect(path).toMatch(/^\/tmp\/sandbox-mcp\/.+\.txt$/);
    const out = (await sh(client, `wc -l < ${path as string}; tail -n 1 ${path as string}`)).stdout.split('\n');
    return { lines: Number(out[0]), last: out[1]! };
  }

  it('shell_exec: seq 1 400000 sends head and tail within the budget, the whole in stdoutPath', async () => {
    const r = await call(client, 'shell_exec', { command: 'seq 1 400000' });
    expect(r.isError).toBeFalsy();
    expect(sent(r)).toBeLessThanOrEqual(BUDGET);
    const s = r.structuredContent!;
    expect(s.stdout).toBeUndefined(); // not twice: the text carries it
    expect(s.exitCode).toBe(0);
    expect(text(r)).toMatch(/^exit code 0/);
    expect(text(r)).toContain('\n1\n2\n3\n');
    expect(text(r)).toContain('\n399999\n400000\n');
    expect(text(r)).toContain(`the whole stdout is in ${s.stdoutPath as string}`);
    // 2.7 MB is over the server's output cap (SANDBOX_MAX_OUTPUT, 1 MiB): the file holds what was kept.
    expect(s.truncated).toBe(true);
    expect((await spilled(s.stdoutPath)).last).toBe('400000');
    // Under the output cap, the file holds every line.
    const whole = await call(client, 'shell_exec', { command: 'seq 1 60000' });
    expect(sent(whole)).toBeLessThanOrEqual(BUDGET);
    expect(await spilled(whole.structuredContent!.stdoutPath)).toEqual({ lines: 60000, last: '60000' });
    // A small output is sent whole, in both renderings, with no file.
    const small = await call(client, 'shell_exec', { command: 'echo hi' });
    expect(small.structuredContent).toMatchObject({ stdout: 'hi\n' });
    expect(small.structuredContent!.stdoutPath).toBeUndefined();
  });

  it('SANDBOX_RESULT_MAX_KB (--result-max-kb) sets the budget', async () => {
    const own = tempDir();
    const { client: small } = await stdioClient({ SANDBOX_STATE_DIR: own.dir, SANDBOX_WARM_POOL: '0' }, [
      '--result-max-kb',
      '8',
    ]);
    try {
      const r = await call(small, 'shell_exec', { command: 'seq 1 5000' });
      expect(sent(r)).toBeLessThanOrEqual(8 * 1024);
      expect(r.structuredContent!.stdoutPath).toMatch(/^\/tmp\/sandbox-mcp\//);
    } finally {
      await small.close();
      own.cleanup();
    }
  });

  it('shell_read: a big read sends head and tail, the whole in outputPath', async () => {
    const started = await call(client, 'shell_start', { command: 'seq 1 200000; echo END' });
    const processId = started.structuredContent!.processId as string;
    await call(client, 'shell_read', { processId, wait_s: 10, until: 'END', cursor: 1_000_000_000 });
    const r = await call(client, 'shell_read', { processId, max_bytes: 4_000_000 });
    expect(sent(r)).toBeLessThanOrEqual(BUDGET);
    expect(r.structuredContent!.output).toBeUndefined();
    expect(text(r)).toContain(r.structuredContent!.outputPath as string);
    expect(text(r).trimEnd().endsWith('END')).toBe(true);
    expect(await spilled(r.structuredContent!.outputPath)).toEqual({ lines: 200001, last: 'END' });
  });

  it('file_read: a 100k-line file is paged to the budget as sent (numbered text), with where to go on', async () => {
    await sh(client, 'seq 1 100000 | sed "s/$/ some text on this line/" > lines.txt');
    const r = await call(client, 'file_read', { path: 'lines.txt' });
    expect(sent(r)).toBeLessThanOrEqual(BUDGET);
    const s = r.structuredContent as { endLine: number; totalLines: number; truncated: boolean; content?: string };
    expect(s).toMatchObject({ startLine: 1, totalLines: 100000, truncated: true });
    expect(text(r)).toContain(`Continue with offset: ${s.endLine + 1}]`);
    expect(text(r)).toContain(`${String(s.endLine).padStart(6)}\t${s.endLine} some text on this line`);
    // Paging on gets the rest, line for line.
    const next = await call(client, 'file_read', { path: 'lines.txt', offset: s.endLine + 1, limit: 2 });
    expect(next.structuredContent!.content).toBe(
      `${s.endLine + 1} some text on this line\n${s.endLine + 2} some text on this line\n`,
    );
    const last = await call(client, 'file_read', { path: 'lines.txt', offset: 100000 });
    expect(last.structuredContent!.content).toBe('100000 some text on this line\n');
  });

  it('file_search: many matches send head and tail of the list, every match in matchesPath', async () => {
    await sh(
      client,
      `mkdir -p many && for i in $(seq 1 40); do seq 1 200 | sed "s/^/needle $(printf '%060d' 0) /" > many/f$i.txt; done`,
    );
    const r = await call(client, 'file_search', { pattern: 'needle', path: 'many', max_results: 1000 });
    expect(sent(r)).toBeLessThanOrEqual(BUDGET);
    expect(r.structuredContent!.matches).toBeUndefined();
    expect(r.structuredContent!.truncated).toBe(true);
    expect(text(r)).toMatch(/many\/f\d+\.txt:\d+: needle 0+ \d+/);
    expect(text(r)).toContain(r.structuredContent!.matchesPath as string);
    const all = await spilled(r.structuredContent!.matchesPath);
    expect(all.lines).toBe(999); // 1000 matches, the last without a newline
    expect(all.last).toMatch(/^many\/f\d+\.txt:\d+: needle 0+ \d+$/);
  });

  it('webdev_logs: a long log sends head and tail, the lines asked for in logsPath', async () => {
    await call(client, 'webdev_create', { name: 'noisy', template: 'static' });
    const start = await call(client, 'webdev_start', {
      name: 'noisy',
      command: 'seq 1 20000 | sed "s/^/log line /"; exec python3 -m http.server $PORT',
    });
    expect(start.isError, text(start)).toBeFalsy();
    const r = await call(client, 'webdev_logs', { name: 'noisy', tail: 10000 });
    expect(sent(r)).toBeLessThanOrEqual(BUDGET);
    expect(r.structuredContent!.logs).toBeUndefined();
    const logs = await spilled(r.structuredContent!.logsPath);
    expect(logs.lines).toBeGreaterThanOrEqual(9999);
    await call(client, 'webdev_stop', { name: 'noisy' });
  });

  it.skipIf(chromiumMissing())(
    'browser_snapshot: a huge page sends head and tail of the snapshot, the whole in snapshotPath',
    async () => {
      await sh(
        client,
        `python3 -c "print('<html><body>' + ''.join('<button>button number %d</button>' % i for i in range(3000)) + '</body></html>')" > huge.html`,
      );
      await call(client, 'browser_navigate', { url: 'file:///workspace/huge.html' });
      const r = await call(client, 'browser_snapshot');
      expect(r.isError, text(r)).toBeFalsy();
      expect(sent(r)).toBeLessThanOrEqual(BUDGET);
      expect(r.structuredContent!.snapshot).toBeUndefined();
      expect(text(r)).toContain('button number 0');
      expect(text(r)).toContain('button number 2999');
      const path = r.structuredContent!.snapshotPath as string;
      expect(text(r)).toContain(path);
      const count = await sh(client, `grep -c 'button "button number' ${path}`);
      expect(Number(count.stdout.trim())).toBe(3000);
      await call(client, 'browser_close');
    },
    120_000,
  );
});
