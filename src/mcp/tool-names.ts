/**
 * Tool names as this server serves them. With SANDBOX_TOOL_PREFIX set every tool is served as
 * prefix + name, and every text the model reads that names a tool must name the served one: the
 * handlers ask `name()`, and `render()` rewrites texts written far from any handler (error hints of
 * providers and of the in-sandbox agent, descriptions) in one place.
 */
export interface ToolNamer {
  readonly prefix: string;
  /** The served name of a tool (its name in the code plus the prefix). */
  name(base: string): string;
  /** `text` with every mention of a known tool replaced by its served name. */
  render(text: string): string;
}

export function toolNamer(prefix: string, baseNames: readonly string[]): ToolNamer {
  if (!prefix || !baseNames.length) return { prefix: '', name: (base) => base, render: (text) => text };
  // Longest first, so shell_kill_all is not read as shell_kill. A name inside a longer word, a path or
  // a file name (file_read.txt, /x/shell_exec) is left alone: only whole words are tool names.
  const alternatives = [...baseNames].sort((a, b) => b.length - a.length).join('|');
  const mention = new RegExp(`(?<![\\w./-])(${alternatives})(?![\\w/-]|\\.\\w)`, 'g');
  return {
    prefix,
    name: (base) => `${prefix}${base}`,
    render: (text) => text.replace(mention, `${prefix}$1`),
  };
}
