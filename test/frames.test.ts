import { describe, expect, it } from 'vitest';
import { FrameReader, frameHeader } from '../src/agent/frames.js';

/** The agent channel's framing: JSON lines, some followed by raw bytes, however the stream is chunked. */
describe('agent channel framing', () => {
  const body = Buffer.from(`héllo\n{"not":"json"}\n\0\xff`.repeat(5000), 'latin1');
  const stream = Buffer.concat([
    Buffer.from(frameHeader({ id: 1, op: 'fs.write', path: 'a' }, { field: 'data', data: body })),
    body,
    Buffer.from('\n'),
    Buffer.from(
      frameHeader({ id: 2, ok: true, result: { size: 3 } }, { field: 'result.text', data: Buffer.from('a\nb') }),
    ),
    Buffer.from('a\nb'),
    Buffer.from(
      frameHeader({ id: 3, ok: true, result: { emptyBody: true } }, { field: 'result.text', data: Buffer.alloc(0) }),
    ),
    Buffer.from(frameHeader({ id: 4, event: 'output', data: 'plain ✓' })),
  ]);

  function decode(chunkSizes: () => number) {
    const got: Record<string, unknown>[] = [];
    const bad: string[] = [];
    const reader = new FrameReader(
      (m) => got.push(m),
      (l) => bad.push(l),
      { maxLineBytes: 1 << 20, maxBodyBytes: 1 << 20, binFields: ['data', 'result.text'] },
    );
    for (let i = 0; i < stream.length;) {
      const n = Math.max(1, chunkSizes());
      reader.push(stream.subarray(i, i + n));
      i += n;
    }
    return { got, bad };
  }

  for (const [name, sizes] of [
    ['one chunk', () => stream.length],
    ['byte by byte', () => 1],
    ['random chunks', () => Math.floor(Math.random() * 70_000)],
    ['pipe-sized chunks', () => 65_536],
  ] as const) {
    it(`decodes every message (${name})`, () => {
      const { got, bad } = decode(sizes);
      expect(bad).toEqual([]);
      expect(got).toHaveLength(4);
      expect(got[0]).toMatchObject({ id: 1, op: 'fs.write', path: 'a' });
      expect((got[0]!.data as Buffer).equals(body)).toBe(true);
      expect(got[0]).not.toHaveProperty('$len');
      expect((got[1]!.result as { text: Buffer; size: number }).text.toString()).toBe('a\nb');
      expect((got[2]!.result as { text: Buffer }).text.length).toBe(0);
      expect(got[3]).toEqual({ id: 4, event: 'output', data: 'plain ✓' });
    });
  }
});
