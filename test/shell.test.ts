import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, hostProcessesWith, sh, stdioClient, tempDir, text, expectEarlyCancelNeverRuns } from './helpers.js';

describe('shell tools over stdio', () => {
  let client: Client;
  let state: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    state = tempDir();
    ({ client } = await stdioClient({
      SANDBOX_STATE_DIR: state.dir,
      SANDBOX_EXEC_TIMEOUT: '30',
      SANDBOX_MAX_OUTPUT: '65536',
      // These cases are about the provider's output cap: a result budget above it lets them see it whole
      // (test/surface-budget.test.ts holds the budget itself).
      SANDBOX_RESULT_MAX_KB: '256',
    }));
  });
  afterAll(async () => {
    await client?.close();
    state?.cleanup();
  });

  it('lists every shell tool with schemas and annotations', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'sandbox_info',
        'shell_exec',
        'shell_start',
        'shell_read',
        'shell_write',
        'shell_kill',
        'shell_list',
      ]),
    );
    const exec = tools.find((t) => t.name === 'shell_exec')!;
    expect(exec.outputSchema?.properties).toHaveProperty('exitCode');
    expect(exec.annotations?.destructiveHint).toBe(true);
    expect(tools.find((t) => t.name === 'shell_list')!.annotations?.readOnlyHint).toBe(true);
  });

  it('creates no sandbox at initialize, only at the first call that needs one', async () => {
    expect(readdirSync(path.join(state.dir, 'sandboxes'))).toEqual([]);
    await sh(client, 'true');
    expect(readdirSync(path.join(state.dir, 'sandboxes'))).toHaveLength(1);
  });

  it('returns exit code, stdout and stderr separately; a non-zero exit is data, not an error', async () => {
    const r = await call(client, 'shell_exec', { command: 'echo out; echo err >&2; exit 3' });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      timedOut: false,
      truncated: false,
    });
    expect(text(r)).toContain('exit code 3');
  });

  it('runs in the workdir by default, honours cwd, env and stdin', async () => {
    expect((await sh(client, 'pwd')).stdout).toBe('/workspace\n');
    await sh(client, 'mkdir -p sub/dir');
    expect((await sh(client, 'pwd', { cwd: 'sub/dir' })).stdout).toBe('/workspace/sub/dir\n');
    expect((await sh(client, 'echo "$GREETING $USER"', { env: { GREETING: 'héllo ✓' } })).stdout).toBe(
      'héllo ✓ user\n',
    );
    expect((await sh(client, 'tr a-z A-Z', { stdin: 'shout\n' })).stdout).toBe('SHOUT\n');
    // Without stdin, a command that reads it gets EOF instead of hanging.
    expect((await sh(client, 'cat; echo done')).stdout).toBe('done\n');
  });

  it("a ~/.bashrc that prints stays out of every command's output, in the foreground and the background", async () => {
    await sh(client, `echo 'echo from-bashrc; echo from-bashrc >&2' >> ~/.bashrc`);
    try {
      expect(await sh(client, 'echo only')).toMatchObject({ stdout: 'only\n', stderr: '' });
      const start = await call(client, 'shell_start', { command: 'echo only-bg' });
      const processId = start.structuredContent!.processId as string;
      const read = await call(client, 'shell_read', { processId, wait_s: 10, until: 'only-bg' });
      expect(read.structuredContent!.output).toBe('only-bg\n');
      // A shell the user asks for reads it as bash always does.
      expect((await sh(client, 'bash -ic true 2>/dev/null')).stdout).toBe('from-bashrc\n');
    } finally {
      await sh(client, 'rm -f ~/.bashrc');
    }
  });

  it('keeps files and running servers between calls', async () => {
    await sh(client, 'echo persisted > note.txt');
    expect((await sh(client, 'cat note.txt')).stdout).toBe('persisted\n');
    const start = await call(client, 'shell_start', {
      command: `node -e "require('http').createServer((q,s)=>s.end('pong '+q.url)).listen(8765,()=>console.log('listening'))"`,
      name: 'web',
    });
    const processId = start.structuredContent!.processId as string;
    const ready = await call(client, 'shell_read', { processId, wait_s: 20, until: 'listening' });
    expect(ready.structuredContent).toMatchObject({ matched: true, running: true });
    const got = await sh(
      client,
      `exec 3<>/dev/tcp/127.0.0.1/8765 && printf 'GET /x HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`,
    );
    expect(got.stdout).toContain('pong /x');
    await call(client, 'shell_kill', { processId: 'web', signal: 'SIGKILL' });
  });

  it('kills the whole process tree on timeout', async () => {
    const marker = `tree-${Date.now()}`;
    const r = await sh(client, `bash -c 'sleep 300 # ${marker}' & bash -c 'sleep 301 # ${marker}' & wait`, {
      timeout_s: 1,
    });
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeLessThan(10_000);
    await new Promise((res) => setTimeout(res, 300));
    expect(await hostProcessesWith(marker)).toEqual([]);
    const again = await call(client, 'shell_exec', { command: 'sleep 5', timeout_s: 1 });
    expect(text(again)).toMatch(/timed out after 1 s.*shell_start/s);
  });

  it('caps huge output, keeping head and tail, and keeps answering', async () => {
    const r = await sh(client, 'echo FIRST; head -c 50000000 /dev/zero | tr "\\0" x; echo; echo LAST');
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(r.droppedBytes).toBeGreaterThan(49_000_000);
    expect(r.stdout.startsWith('FIRST\n')).toBe(true);
    expect(r.stdout.trimEnd().endsWith('LAST')).toBe(true);
    expect(r.stdout.length).toBeLessThan(70_000);
    expect((await sh(client, 'echo still here')).stdout).toBe('still here\n');
  });

  it('runs background processes with cursors, until, stdin and exit codes', async () => {
    const start = await call(client, 'shell_start', {
      command: 'echo ready; while read line; do echo "got:$line"; done; echo bye; exit 7',
    });
    const processId = start.structuredContent!.processId as string;
    const first = await call(client, 'shell_read', { processId, wait_s: 10, until: 'ready' });
    expect(first.structuredContent).toMatchObject({ output: 'ready\n', running: true, matched: true });
    const cursor = first.structuredContent!.cursor as number;
    await call(client, 'shell_write', { processId, input: 'one\n' });
    const second = await call(client, 'shell_read', { processId, cursor, wait_s: 10, until: 'got:one' });
    expect(second.structuredContent!.output).toBe('got:one\n');
    await call(client, 'shell_write', { processId, input: 'two\n', close: true });
    const last = await call(client, 'shell_read', {
      processId,
      cursor: second.structuredContent!.cursor,
      wait_s: 10,
      until: 'bye',
    });
    await new Promise((r) => setTimeout(r, 200));
    const done = await call(client, 'shell_read', {
      processId,
      cursor: last.structuredContent!.cursor as number,
      wait_s: 5,
    });
    expect(last.structuredContent!.output).toBe('got:two\nbye\n');
    expect(done.structuredContent).toMatchObject({ running: false, exitCode: 7 });
    const list = await call(client, 'shell_list');
    expect((list.structuredContent!.processes as { processId: string }[]).map((p) => p.processId)).toContain(processId);
  });

  it('until finds a line beyond what one read returns, and the answer says more output follows', async () => {
    const start = await call(client, 'shell_start', {
      command: "head -c 200000 /dev/zero | tr '\\0' x; echo; echo marker-line; sleep 30",
    });
    const processId = start.structuredContent!.processId as string;
    const began = Date.now();
    const r = await call(client, 'shell_read', { processId, wait_s: 20, until: '^marker-line$', max_bytes: 1000 });
    expect(Date.now() - began).toBeLessThan(10_000); // answered at the match, not at the 20 s deadline
    expect(r.structuredContent).toMatchObject({ matched: true, running: true, cursor: 1000 });
    expect(text(r)).toMatch(/until matched[\s\S]*more bytes of output: continue with cursor: 1000/);
    await call(client, 'shell_kill', { processId });
  });

  it('shell_kill stops a process and its children', async () => {
    const marker = `killme-${Date.now()}`;
    const start = await call(client, 'shell_start', {
      command: `bash -c 'sleep 600 # ${marker}' & sleep 601 # ${marker}`,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await hostProcessesWith(marker)).length).toBeGreaterThan(0);
    const killed = await call(client, 'shell_kill', { processId: start.structuredContent!.processId });
    expect(killed.structuredContent).toMatchObject({ running: false, signal: 'SIGTERM' });
    await new Promise((r) => setTimeout(r, 300));
    expect(await hostProcessesWith(marker)).toEqual([]);
  });

  it('sends progress notifications for a long command when asked', async () => {
    const progress: { progress: number; message?: string }[] = [];
    const r = await client.callTool(
      { name: 'shell_exec', arguments: { command: 'for i in 1 2 3 4; do echo step $i; sleep 0.4; done' } },
      undefined,
      { onprogress: (p) => progress.push(p) },
    );
    expect(r.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.some((p) => p.message?.startsWith('step'))).toBe(true);
  });

  it('a call cancelled before its command started never runs it', () => expectEarlyCancelNeverRuns(client, 5000));

  it('a cancelled call kills its command', async () => {
    const marker = `cancel-${Date.now()}`;
    const ac = new AbortController();
    const pending = client.callTool(
      { name: 'shell_exec', arguments: { command: `sleep 120; echo ${marker}` } },
      undefined,
      { signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 500));
    expect((await hostProcessesWith(marker)).length).toBeGreaterThan(0);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 500));
    expect(await hostProcessesWith(marker)).toEqual([]);
  });

  it('sandbox_info reports provider, isolation, network and limits', async () => {
    const r = await call(client, 'sandbox_info');
    expect(r.structuredContent).toMatchObject({
      provider: 'local',
      workdir: '/workspace',
      network: expect.stringContaining('none'),
    });
    expect(r.structuredContent!.id).toMatch(/^[a-z0-9]{20}$/);
    expect((r.structuredContent!.limits as Record<string, unknown>).maxOutputBytes).toBe(65536);
  });

  describe('bad input gets an isError result that says how to recover', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['shell_exec', { command: '' }, /command must not be empty/],
      ['shell_exec', {}, /command/],
      ['shell_exec', { command: 'true', timeout_s: -1 }, /timeout_s must be at least 0.1/],
      ['shell_exec', { command: 'true', timeout_s: 99999 }, /maximum of 3600 s/],
      ['shell_exec', { command: 'true', cwd: 'no/such/dir' }, /not an existing directory.*mkdir -p/],
      ['shell_exec', { command: 'true', env: { 'BAD-NAME': 'x' } }, /variable names/],
      ['shell_exec', { command: 'true', env: { OK: 5 } }, /env/],
      ['shell_start', { command: 'true', name: 'bad name!' }, /name/],
      ['shell_start', { command: 'true', cwd: '/nope' }, /not an existing directory/],
      ['shell_start', { command: 'true', env: { '1X': 'y' } }, /not a valid variable name/],
      ['shell_read', { processId: 'proc-999' }, /no process "proc-999".*shell_list/],
      ['shell_read', { processId: 'proc-1', wait_s: 1, until: '(' }, /invalid until regex/],
      ['shell_read', { processId: 'proc-1', cursor: -5 }, /cursor/],
      ['shell_write', { processId: 'nope', input: 'x' }, /no process "nope"/],
      ['shell_kill', { processId: 'proc-1', signal: 'SIGFOO' }, /signal/],
      ['shell_kill', { processId: 'nope' }, /no process/],
      // A misspelt argument is refused, not dropped (timeout would otherwise run with the 120 s default).
      [
        'shell_exec',
        { command: 'true', timeout: 5 },
        /unknown argument "timeout": shell_exec takes command, cwd, env, timeout_s, stdin/,
      ],
      ['shell_list', { all: true }, /unknown argument "all": shell_list takes no arguments/],
    ];
    it.each(cases)('%s %j', async (tool, args, message) => {
      const r = await call(client, tool, args);
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(message);
    });

    it('writing to an exited process says to start it again', async () => {
      const start = await call(client, 'shell_start', { command: 'exit 0' });
      const processId = start.structuredContent!.processId;
      await call(client, 'shell_read', { processId, wait_s: 5 });
      const r = await call(client, 'shell_write', { processId, input: 'x' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/has exited.*shell_start/);
    });
  });
});
