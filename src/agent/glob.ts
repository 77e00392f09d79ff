import { AgentError } from './errors.js';

const SPECIAL = /[.*+?^${}()|[\]\\/]/g;
const escape = (c: string) => c.replace(SPECIAL, '\\$&');

/**
 * A glob as a RegExp: `*` and `?` stay within one name, `**` spans folders (`**\/` also matches
 * none), `[abc]`/`[!abc]` classes, `{a,b}` alternatives, `\` escapes. Kept here rather than taken
 * from a library because the agent may import only Node built-ins and its own folder.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body}]`;
      i = end;
    } else if (c === '{') {
      depth++;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      re += ')';
    } else if (c === ',' && depth > 0) re += '|';
    else if (c === '\\' && i + 1 < glob.length) re += escape(glob[++i]!);
    else re += escape(c);
  }
  if (depth > 0)
    throw new AgentError(
      'INVALID_ARGUMENT',
      `invalid glob ${JSON.stringify(glob)}: unclosed {`,
      'close each { with }, e.g. "*.{ts,tsx}"',
    );
  try {
    return new RegExp(`^${re}$`);
  } catch (e) {
    throw new AgentError(
      'INVALID_ARGUMENT',
      `invalid glob ${JSON.stringify(glob)}: ${(e as Error).message}`,
      'use *, **, ?, [abc] and {a,b}, e.g. "src/**/*.ts"',
    );
  }
}

/** A glob without '/' matches base names at any depth; with one, paths relative to the walk's root. */
export function globMatcher(glob: string | undefined): ((rel: string) => boolean) | undefined {
  if (glob === undefined || glob === '') return undefined;
  const re = globToRegExp(glob);
  if (!glob.includes('/')) return (rel) => re.test(rel.slice(rel.lastIndexOf('/') + 1));
  return (rel) => re.test(rel);
}
