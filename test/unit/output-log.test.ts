import { describe, expect, it } from 'vitest';
import { OutputLog } from '../../src/agent/output-log.js';
import { enableLinearRegexFallback } from '../../src/agent/regex-fallback.js';

describe('OutputLog', () => {
  it('gives each reader only what came since its cursor', async () => {
    const log = new OutputLog();
    log.append('one\n');
    const first = await log.read({ maxBytes: 1024 });
    expect(first).toMatchObject({ output: 'one\n', cursor: 4, droppedBytes: 0 });
    log.append('two\n');
    expect(await log.read({ cursor: first.cursor, maxBytes: 1024 })).toMatchObject({ output: 'two\n', cursor: 8 });
  });

  it('stops at maxBytes and resumes from the cursor it returned', async () => {
    const log = new OutputLog();
    log.append('abcdefghij');
    const part = await log.read({ maxBytes: 4 });
    expect(part).toMatchObject({ output: 'abcd', cursor: 4 });
    expect((await log.read({ cursor: part.cursor, maxBytes: 100 })).output).toBe('efghij');
  });

  it('never splits a UTF-8 character between two reads', async () => {
    const log = new OutputLog();
    const euro = Buffer.from('€'); // three bytes
    log.append(euro.subarray(0, 1));
    const early = await log.read({ maxBytes: 100 });
    expect(early).toMatchObject({ output: '', cursor: 0 });
    log.append(euro.subarray(1));
    expect((await log.read({ cursor: early.cursor, maxBytes: 100 })).output).toBe('€');
  });

  it('waits for a line matching until, and wakes as soon as it arrives', async () => {
    const log = new OutputLog();
    setTimeout(() => log.append('starting\nlistening on 3000\n'), 50);
    const started = Date.now();
    const read = await log.read({ waitMs: 5000, until: 'listening on \\d+', maxBytes: 1024 });
    expect(read.matched).toBe(true);
    expect(read.output).toContain('listening on 3000');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('stops waiting when the process ends', async () => {
    const log = new OutputLog();
    setTimeout(() => log.close(), 50);
    const read = await log.read({ waitMs: 10_000, until: 'never', maxBytes: 1024 });
    expect(read.matched).toBe(false);
  });

  it('reports output that scrolled out under the retention cap as dropped', async () => {
    const log = new OutputLog();
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    for (let i = 0; i < 6; i++) log.append(chunk);
    const read = await log.read({ cursor: 0, maxBytes: 10 });
    expect(read.droppedBytes).toBe(2 * 1024 * 1024);
    expect(read.cursor).toBe(2 * 1024 * 1024 + 10);
  });

  it('refuses an invalid until regex with a hint', async () => {
    const log = new OutputLog();
    await expect(log.read({ until: '(', maxBytes: 10 })).rejects.toThrow(/invalid until regex/);
  });

  // Last: the flag is process-wide. Importing output-log no longer sets it; the agent and the server set
  // it at start. Without it this read backtracks for seconds (about 2^27 steps) before it returns.
  it('answers a catastrophic until regex at once once the linear-time fallback is on', async () => {
    enableLinearRegexFallback();
    const log = new OutputLog();
    log.append(`${'a'.repeat(27)}!\n`);
    const started = Date.now();
    const read = await log.read({ until: '(a+)+$', maxBytes: 1024 });
    expect(read.matched).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
