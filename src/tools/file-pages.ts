import { ok, type ToolContext, type ToolResult } from '../mcp/tool.js';
import { jsonBytes, sentBytes } from '../mcp/tool-result.js';
import type { ReadTextResult } from '../providers/types.js';
import { fmtBytes } from './files-common.js';

function numbered(text: string, first: number): string {
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  let out = '';
  for (let i = 0; i < lines.length; i++) out += `${i ? '\n' : ''}${String(first + i).padStart(6)}\t${lines[i]}`;
  return out;
}

/**
 * A page of text as sent: numbered lines in the text, the raw lines in `content` while both fit the
 * result budget. Past it `content` is left out (the text has the lines) and, if the numbered lines
 * alone do not fit, the page ends at the last line that does, with a note saying where to go on.
 */
export function textPage(ctx: ToolContext, path: string, r: ReadTextResult, cap: number): ToolResult {
  const structured = {
    path,
    kind: 'text' as const,
    encoding: 'utf-8' as const,
    size: r.size,
    startLine: r.startLine,
    endLine: r.endLine,
    totalLines: r.totalLines,
    truncated: r.endLine < r.totalLines || r.truncated,
  };
  if (r.totalLines === 0) return ok({ ...structured, content: r.text }, `${path} is empty.`);
  const partLine = r.truncated && r.endLine === r.startLine && !r.text.endsWith('\n');
  const whole = ok(
    { ...structured, content: r.text },
    withNote(numbered(r.text, r.startLine), pageNote(r, cap, partLine)),
  );
  const budget = ctx.config.resultMaxKb * 1024;
  if (sentBytes(whole) <= budget) return whole;
  const text = numbered(r.text, r.startLine);
  const alone = ok(structured, withNote(text, pageNote(r, cap, partLine)));
  if (sentBytes(alone) <= budget || partLine) return alone;
  // Whole lines up to what the budget holds, with room for the note.
  const lines = text.split('\n');
  let room = budget - sentBytes(ok(structured, '')) - 400;
  let kept = 0;
  while (kept < lines.length - 1 && (room -= jsonBytes(lines[kept]!) + 2) > 0) kept++;
  const endLine = r.startLine + Math.max(kept, 1) - 1;
  const page = { ...structured, endLine, truncated: true };
  return ok(
    page,
    `${lines.slice(0, Math.max(kept, 1)).join('\n')}\n[showing lines ${r.startLine}-${endLine} of ${r.totalLines}: the result budget was reached. Continue with offset: ${endLine + 1}]`,
  );
}

function withNote(text: string, note: string): string {
  return note ? `${text}\n${note}` : text;
}

/** What the model reads under a page: where the file goes on, and why it stopped. */
function pageNote(r: ReadTextResult, cap: number, partLine: boolean): string {
  let note = '';
  if (partLine)
    note = `[line ${r.startLine} is longer than the ${fmtBytes(cap)} read cap and was cut; read it in pieces with encoding: "base64" or shell_exec (e.g. cut -c)]`;
  else if (r.truncated)
    note = `[showing lines ${r.startLine}-${r.endLine} of ${r.totalLines}: the ${fmtBytes(cap)} read cap was reached. Continue with offset: ${r.endLine + 1}]`;
  else if (r.endLine < r.totalLines)
    note = `[showing lines ${r.startLine}-${r.endLine} of ${r.totalLines}. Continue with offset: ${r.endLine + 1}]`;
  if (partLine && r.endLine < r.totalLines)
    note += `\n[the file has ${r.totalLines} lines; the next one is at offset: ${r.endLine + 1}]`;
  return note;
}
