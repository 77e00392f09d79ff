/**
 * file_search patterns are JavaScript regular expressions (the local provider runs them as such); the
 * docker provider hands them to `grep -P`. This rewrites the few constructs whose PCRE meaning differs,
 * so both providers find the same lines: `\uXXXX` / `\u{X}` (PCRE has no \u), `[^]` and `[]` (PCRE
 * reads the `]` as a member), `[` inside a class (PCRE may read `[:alpha:]`), `\x` without two hex
 * digits and, outside Unicode mode, escaped letters that JavaScript takes literally (`\h`, `\e`, `\z`,
 * `\Q`, `\A`, `\K`, ...: PCRE escapes). `unicode` is whether the pattern compiled with the `u` flag.
 */
const JS_LETTER_ESCAPES = new Set('bBdDwWsSfnrtvcxukpP');

export function jsToPcre(pattern: string, unicode: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      const rest = pattern.slice(i + 2);
      let m: RegExpMatchArray | null;
      if (n === 'u' && (m = rest.match(/^[0-9a-fA-F]{4}/))) {
        out += `\\x{${m[0]}}`;
        i += 5;
        continue;
      }
      if (n === 'u' && unicode && (m = rest.match(/^\{([0-9a-fA-F]+)\}/))) {
        out += `\\x{${m[1]}}`;
        i += 1 + m[0].length;
        continue;
      }
      if (n === 'x' && !/^[0-9a-fA-F]{2}/.test(rest)) {
        out += 'x';
        i += 1;
        continue;
      }
      if (!unicode && /[a-zA-Z]/.test(n) && !JS_LETTER_ESCAPES.has(n) && !(n === 'c' && /^[a-zA-Z]/.test(rest))) {
        out += n;
        i += 1;
        continue;
      }
      out += c + n;
      i += 1;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
      continue;
    }
    if (c === '[') {
      if (pattern.startsWith('[]', i)) {
        out += '(?!)';
        i += 1;
        continue;
      }
      if (pattern.startsWith('[^]', i)) {
        out += '[\\s\\S]';
        i += 2;
        continue;
      }
      inClass = true;
      const neg = pattern[i + 1] === '^';
      out += neg ? '[^' : '[';
      if (neg) i += 1;
      continue;
    }
    out += c;
  }
  return out;
}
