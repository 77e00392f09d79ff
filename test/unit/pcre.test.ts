import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jsToPcre } from '../../src/providers/docker/regex.js';

describe('jsToPcre', () => {
  it('rewrites the constructs whose PCRE meaning differs', () => {
    expect(jsToPcre('\\u00e9', false)).toBe('\\x{00e9}');
    expect(jsToPcre('\\u{1F600}', true)).toBe('\\x{1F600}');
    expect(jsToPcre('[^]', false)).toBe('[\\s\\S]');
    expect(jsToPcre('a[]b', false)).toBe('a(?!)b');
    expect(jsToPcre('[[:alpha:]]', false)).toBe('[\\[:alpha:]]');
    expect(jsToPcre('\\xZ', false)).toBe('xZ');
    expect(jsToPcre('\\h\\e', false)).toBe('he');
  });

  it('leaves escapes both engines read alike', () => {
    for (const pattern of ['\\d+\\s\\w', '\\bword\\b', '\\x41', '[a-z]+', '\\cA', 'a|b', '(?:x)']) {
      expect(jsToPcre(pattern, false)).toBe(pattern);
    }
  });

  const grep = spawnSync('grep', ['-P', 'x'], { input: 'x\n' });
  it.skipIf(grep.status !== 0)('finds in grep -P what JavaScript finds', () => {
    const lines = ['plain', 'café', 'a[b', 'tab\there', 'zeta', 'h', 'ü'];
    for (const [pattern, flags] of [
      ['\\u00e9', ''],
      ['[[]', ''],
      ['\\z', ''],
      ['\\h', ''],
      ['[^]', ''],
      ['\\u{fc}', 'u'],
    ] as const) {
      const js = lines.filter((line) => new RegExp(pattern, flags).test(line));
      const out = spawnSync('grep', ['-P', '--', jsToPcre(pattern, flags === 'u')], { input: lines.join('\n') + '\n' });
      const pcre = out.stdout.toString().split('\n').filter(Boolean);
      expect(pcre, `pattern ${pattern}`).toEqual(js);
    }
  });
});
