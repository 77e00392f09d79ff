import { readFileSync } from 'node:fs';

/**
 * A shell script shipped beside the code (a scripts/ folder the build copies to dist), read on first
 * use and kept for the server's life. Scripts run as `bash -c "$text" NAME ARGS...` inside a sandbox
 * or container that has no copy of them: their arguments are positional parameters, never spliced
 * into the text.
 */
export function scriptFile(url: URL): () => string {
  let text: string | undefined;
  return () => (text ??= readFileSync(url, 'utf8'));
}
