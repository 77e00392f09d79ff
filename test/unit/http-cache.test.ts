import { describe, expect, it } from 'vitest';
import { byteRange, etagMatches } from '../../src/deploy/http-cache.js';

describe('etagMatches', () => {
  const tag = '"abc"';
  it('matches the tag itself, its weak form, a list holding it, and *', () => {
    expect(etagMatches('"abc"', tag)).toBe(true);
    expect(etagMatches('W/"abc"', tag)).toBe(true);
    expect(etagMatches('"x", W/"abc" , "y"', tag)).toBe(true);
    expect(etagMatches(' * ', tag)).toBe(true);
  });
  it('does not match another tag, an unquoted one, or none', () => {
    expect(etagMatches('"abd"', tag)).toBe(false);
    expect(etagMatches('abc', tag)).toBe(false);
    expect(etagMatches(undefined, tag)).toBe(false);
    expect(etagMatches('', tag)).toBe(false);
  });
});

describe('byteRange', () => {
  it('reads a-b, a- and -n ranges, clamped to the file', () => {
    expect(byteRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(byteRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(byteRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
    expect(byteRange('bytes=-1000', 100)).toEqual({ start: 0, end: 99 });
  });
  it('calls a range past the end, reversed, or of an empty file unsatisfiable', () => {
    expect(byteRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(byteRange('bytes=9-0', 100)).toBe('unsatisfiable');
    expect(byteRange('bytes=0-0', 0)).toBe('unsatisfiable');
  });
  it('ignores what it does not serve (several ranges, other units, garbage): the whole file follows', () => {
    expect(byteRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(byteRange('items=0-1', 100)).toBeUndefined();
    expect(byteRange('bytes=-', 100)).toBeUndefined();
    expect(byteRange('bytes=a-b', 100)).toBeUndefined();
  });
});
