import { describe, expect, it } from 'vitest';
import { StderrFramer, TrailerScanner } from '../src/providers/docker/framing.js';

/** The docker provider's output framing: what a command prints must come out byte for byte. */
const token = 'abc123';
const trailer = (kind: string, v: string) => Buffer.from(`\0\x1b${token}:${kind}:${v}\n`);

function scan(chunks: Buffer[]) {
  const out: Buffer[] = [];
  const seen: string[] = [];
  const s = new TrailerScanner(token, 'out', { data: (b) => out.push(b), trailer: (v) => seen.push(v) });
  const emitted: number[] = [];
  for (const c of chunks) {
    s.push(c);
    emitted.push(Buffer.concat(out).length);
  }
  s.flush();
  return { out: Buffer.concat(out), seen, emitted };
}

describe('docker output framing', () => {
  it('strips the trailer split anywhere across chunks, keeping output without a final newline', () => {
    const whole = Buffer.concat([
      Buffer.from('no newline at end'),
      trailer('out', ''),
      Buffer.from('late child output'),
    ]);
    for (let cut = 1; cut < whole.length; cut++) {
      const r = scan([whole.subarray(0, cut), whole.subarray(cut)]);
      expect(r.seen).toEqual(['']);
      expect(r.out.toString()).toBe('no newline at endlate child output');
    }
  });

  it('never holds back streamed text, and keeps NUL bytes that are not a trailer', () => {
    const r = scan([Buffer.from('ready\n'), Buffer.from([0x61, 0, 0x62, 0]), Buffer.from([0x63])]);
    expect(r.emitted[0]).toBe(6);
    expect(r.out.equals(Buffer.from([...Buffer.from('ready\n'), 0x61, 0, 0x62, 0, 0x63]))).toBe(true);
    expect(r.seen).toEqual([]);
  });

  it('reads the header line and the exit status from stderr', () => {
    const events: string[] = [];
    const f = new StderrFramer(token, {
      header: (h) => events.push(`header ${JSON.stringify(h)}`),
      data: (b) => events.push(`data ${b.toString()}`),
      exit: (c) => events.push(`exit ${c}`),
    });
    f.push(Buffer.from(`${token}:pi`));
    f.push(Buffer.concat([Buffer.from(`d:42\nwarning`), trailer('exit', '3')]));
    f.flush();
    expect(events).toEqual(['header {"pid":42}', 'data warning', 'exit 3']);
  });

  it('a stream that is not framed (the wrapper never ran) is passed through whole', () => {
    const events: string[] = [];
    const f = new StderrFramer(token, {
      header: (h) => events.push(`header ${h}`),
      data: (b) => events.push(b.toString()),
      exit: () => events.push('exit'),
    });
    f.push(Buffer.from('OCI runtime exec failed: no bash\n'));
    f.flush();
    expect(events).toEqual(['header undefined', 'OCI runtime exec failed: no bash\n']);
  });
});

describe('docker file helper errors', () => {
  it('a helper that cannot fork (the process limit is used up) says so and how to recover', async () => {
    const { helperError } = await import('../src/providers/shared/helper-errors.js');
    const stderr =
      'sandbox-mcp: fork: retry: Resource temporarily unavailable\nsandbox-mcp: fork: Resource temporarily unavailable\n';
    const e = helperError(stderr, 254, '/workspace/p.txt');
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(`${e.message} ${e.hint}`).toMatch(/process limit.*shell_kill/s);
  });
});
