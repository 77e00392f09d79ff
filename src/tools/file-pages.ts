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
export function textPage(ctx: ToolContext, path: string, readTextResult: ReadTextResult, cap: number): ToolResult {
  const structured = {
    path,
    kind: 'text' as const,
    encoding: 'utf-8' as const,
    size: readTextResult.size,
    startLine: readTextResult.startLine,
    endLine: readTextResult.endLine,
    totalLines: readTextResult.totalLines,
    truncated: readTextResult.endLine < readTextResult.totalLines || readTextResult.truncated,
  };
  if (readTextResult.totalLines === 0) return ok({ ...structured, content: readTextResult.text }, `${path} is empty.`);
  const partLine =
    readTextResult.truncated &&
    readTextResult.endLine === readTextResult.startLine &&
    !readTextResult.text.endsWith('\n');
  const whole = ok(
    { ...structured, content: readTextResult.text },
    withNote(numbered(readTextResult.text, readTextResult.startLine), pageNote(readTextResult, cap, partLine)),
  );
  const budget = ctx.config.resultMaxKb * 1024;
  if (sentBytes(whole) <= budget) return whole;
  const text = numbered(readTextResult.text, readTextResult.startLine);
  const alone = ok(structured, withNote(text, pageNote(readTextResult, cap, partLine)));
  if (sentBytes(alone) <= budget || partLine) return alone;
  // Whole lines up to what the budget holds, with room for the note.
  const lines = text.split('\n');
  let room = budget - sentBytes(ok(structured, '')) - 400;
  let kept = 0;
  while (kept < lines.length - 1 && (room -= jsonBytes(lines[kept]!) + 2) > 0) kept++;
  const endLine = readTextResult.startLine + Math.max(kept, 1) - 1;
  const page = { ...structured, endLine, truncated: true };
  return ok(
    page,
    `${lines.slice(0, Math.max(kept, 1)).join('\n')}\n[showing lines ${readTextResult.startLine}-${endLine} of ${readTextResult.totalLines}: the result budget was reached. Continue with offset: ${endLine + 1}]`,
  );
}

function withNote(text: string, note: string): string {
  return note ? `${text}\n${note}` : text;
}

/** What the model reads under a page: where the file goes on, and why it stopped. */
function pageNote(readTextResult: ReadTextResult, cap: number, partLine: boolean): string {
  let note = '';
  if (partLine)
    note = `[line ${readTextResult.startLine} is longer than the ${fmtBytes(cap)} read cap and was cut; read it in pieces with encoding: "base64" or shell_exec (e.g. cut -c)]`;
  else if (readTextResult.truncated)
    note = `[showing lines ${readTextResult.startLine}-${readTextResult.endLine} of ${readTextResult.totalLines}: the ${fmtBytes(cap)} read cap was reached. Continue with offset: ${readTextResult.endLine + 1}]`;
  else if (readTextResult.endLine < readTextResult.totalLines)
    note = `[showing lines ${readTextResult.startLine}-${readTextResult.endLine} of ${readTextResult.totalLines}. Continue with offset: ${readTextResult.endLine + 1}]`;
  if (partLine && readTextResult.endLine < readTextResult.totalLines)
    note += `\n[the file has ${readTextResult.totalLines} lines; the next one is at offset: ${readTextResult.endLine + 1}]`;
  return note;
}
