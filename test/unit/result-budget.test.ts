import { describe, expect, it } from 'vitest';
import { sentBytes, trimmedArrays, withinBudget } from '../../src/mcp/tool-result.js';

const ctx = { tool: (name: string) => name, spill: async () => '/tmp/sandbox-mcp/spilled.txt' };

describe('the result budget held for every tool', () => {
  it('keeps a head and a tail of the text when the structured content is a long list of small items', async () => {
    const entries = Array.from({ length: 4000 }, (_, i) => ({ path: `/usr/lib/file-${i}`, type: 'file', size: i }));
    const text = entries.map((e) => `${e.path}  ${e.size} B`).join('\n');
    const result = await withinBudget(
      { content: [{ type: 'text', text }], structuredContent: { entries, truncated: false } },
      32 * 1024,
      ctx,
    );
    expect(sentBytes(result)).toBeLessThanOrEqual(32 * 1024);
    const shown = (result.content![0] as { text: string }).text;
    expect(shown.startsWith('/usr/lib/file-0  0 B\n')).toBe(true);
    expect(shown.endsWith('/usr/lib/file-3999  3999 B')).toBe(true);
    expect(shown).toContain('/tmp/sandbox-mcp/spilled.txt');
    const kept = (result.structuredContent as { entries: unknown[] }).entries;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept[0]).toEqual(entries[0]);
  });

  it('trims the longest arrays, keeping whole items and the other fields', () => {
    const value = { items: Array.from({ length: 1000 }, (_, i) => ({ n: i })), name: 'x', small: [1, 2] };
    const trimmed = trimmedArrays(value, 2000) as typeof value;
    expect(Buffer.byteLength(JSON.stringify(trimmed))).toBeLessThanOrEqual(2000);
    expect(trimmed.items[0]).toEqual({ n: 0 });
    expect(trimmed).toMatchObject({ name: 'x', small: [1, 2] });
    expect(value.items).toHaveLength(1000); // the original is left alone
  });
});
