import { describe, expect, it } from 'vitest';
import { globMatcher, globToRegExp } from '../../src/agent/glob.js';

describe('globToRegExp', () => {
  const matches = (glob: string, path: string) => globToRegExp(glob).test(path);

  it('keeps * and ? within one name', () => {
    expect(matches('*.ts', 'main.ts')).toBe(true);
    expect(matches('*.ts', 'src/main.ts')).toBe(false);
    expect(matches('?.md', 'a.md')).toBe(true);
    expect(matches('?.md', 'ab.md')).toBe(false);
    expect(matches('a?b', 'a/b')).toBe(false);
  });

  it('lets ** span folders, and **/ match no folder at all', () => {
    expect(matches('src/**/*.ts', 'src/a/b/c.ts')).toBe(true);
    expect(matches('src/**/*.ts', 'src/c.ts')).toBe(true);
    expect(matches('src/**', 'src/a/b')).toBe(true);
    expect(matches('src/**/*.ts', 'lib/c.ts')).toBe(false);
  });

  it('reads classes, negated classes, alternatives and escapes', () => {
    expect(matches('[abc].txt', 'b.txt')).toBe(true);
    expect(matches('[!abc].txt', 'b.txt')).toBe(false);
    expect(matches('[!abc].txt', 'd.txt')).toBe(true);
    expect(matches('*.{ts,tsx}', 'view.tsx')).toBe(true);
    expect(matches('*.{ts,tsx}', 'view.js')).toBe(false);
    expect(matches('\\*.md', '*.md')).toBe(true);
    expect(matches('\\*.md', 'a.md')).toBe(false);
  });

  it('takes regex characters literally', () => {
    expect(matches('a+b(1).txt', 'a+b(1).txt')).toBe(true);
    expect(matches('a.b', 'axb')).toBe(false);
    expect(matches('[unclosed', '[unclosed')).toBe(true);
  });

  it('says how to fix an unclosed alternative', () => {
    expect(() => globToRegExp('*.{ts,js')).toThrow(/unclosed \{/);
  });
});

describe('globMatcher', () => {
  it('matches base names at any depth for a glob without "/"', () => {
    const match = globMatcher('*.json')!;
    expect(match('package.json')).toBe(true);
    expect(match('a/b/tsconfig.json')).toBe(true);
    expect(match('a/json/readme')).toBe(false);
  });

  it('matches paths from the root for a glob with "/"', () => {
    const match = globMatcher('src/*.ts')!;
    expect(match('src/a.ts')).toBe(true);
    expect(match('lib/src/a.ts')).toBe(false);
  });

  it('is no filter at all for an empty or missing glob', () => {
    expect(globMatcher(undefined)).toBeUndefined();
    expect(globMatcher('')).toBeUndefined();
  });
});
