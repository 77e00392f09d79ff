import { describe, expect, it } from 'vitest';
import { HeadTailCapture } from '../../src/agent/capture.js';

describe('HeadTailCapture', () => {
  it('keeps everything that fits in its budget, unmarked', () => {
    const capture = new HeadTailCapture(100);
    capture.push(Buffer.from('hello '));
    capture.push(Buffer.from('world'));
    expect(capture.text()).toBe('hello world');
    expect(capture.dropped).toBe(0);
    expect(capture.total).toBe(11);
  });

  it('keeps the head and the tail of a long stream and counts what fell out of the middle', () => {
    const capture = new HeadTailCapture(20);
    for (let i = 0; i < 1000; i++) capture.push(Buffer.from(`${String(i).padStart(4, '0')}\n`));
    const text = capture.text();
    expect(text.startsWith('0000\n0001\n')).toBe(true);
    expect(text.endsWith('0998\n0999\n')).toBe(true);
    expect(capture.total).toBe(5000);
    expect(capture.dropped).toBe(5000 - 20);
    expect(text).toContain(`[... ${5000 - 20} bytes dropped`);
  });

  it('holds a bounded amount when one huge chunk arrives', () => {
    const capture = new HeadTailCapture(10);
    capture.push(Buffer.alloc(1_000_000, 'x'));
    capture.push(Buffer.from('END'));
    expect(capture.text().endsWith('xxEND')).toBe(true);
    expect(capture.dropped).toBe(1_000_003 - 10);
  });
});
