import { randomBytes } from 'node:crypto';
import type { Session } from '../sessions/session.js';
import { ok, type ToolContext, type ToolResult } from './tool.js';

/**
 * The result budget (SANDBOX_RESULT_MAX_KB): what one call may send the model, measured on what is
 * sent (the text blocks and the structured content, JSON-encoded), not on file bytes. Big outputs
 * keep their head and tail, and their whole is written to a file in the sandbox whose path the
 * result gives, so nothing is lost and nothing floods the context.
 */

/** Bytes of `text` once JSON-encoded (quotes left out): what a string costs on the wire. */
export function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** What a result sends of text: its text blocks and its structured content. Images are not text. */
export function sentBytes(result: ToolResult): number {
  let bytes = result.structuredContent ? Buffer.byteLength(JSON.stringify(result.structuredContent)) : 0;
  for (const block of result.content ?? []) if (block.type === 'text') bytes += jsonBytes(block.text) + 30;
  return bytes;
}

/** The first `maxBytes` (JSON-encoded) of `text`, or its last ones: whole lines where a line end is near. */
function slice(text: string, maxBytes: number, from: 'head' | 'tail'): string {
  if (maxBytes <= 0) return '';
  // JSON escapes cost up to 6 bytes a character: start from a guess, then shrink until it fits.
  let chars = Math.min(text.length, maxBytes);
  let piece = '';
  for (let i = 0; i < 20; i++) {
    piece = from === 'head' ? text.slice(0, chars) : text.slice(text.length - chars);
    const bytes = jsonBytes(piece);
    if (bytes <= maxBytes) break;
    chars = Math.floor((chars * maxBytes) / bytes) - 1;
  }
  const cut = from === 'head' ? piece.lastIndexOf('\n') : piece.indexOf('\n');
  if (cut > 0 && cut > piece.length * 0.8 && from === 'head') return piece.slice(0, cut + 1);
  if (cut >= 0 && cut < piece.length * 0.2 && from === 'tail') return piece.slice(cut + 1);
  return piece;
}

/** `text` cut to its head and tail, together with the marker at most `maxBytes` (JSON-encoded). */
export function headTail(text: string, maxBytes: number, marker: (omittedChars: number) => string): string {
  if (jsonBytes(text) <= maxBytes) return text;
  const room = maxBytes - jsonBytes(marker(text.length)) - 2;
  const head = slice(text, Math.floor(room * 0.6), 'head');
  const tail = slice(text.slice(head.length), room - jsonBytes(head), 'tail');
  return `${head}\n${marker(text.length - head.length - tail.length)}\n${tail}`;
}

/** The spill files of each session: the oldest go when there are more, so spills never fill a disk. */
const SPILLS_KEPT = 20;
const spills = new WeakMap<Session, string[]>();

/** Writes a spill file into the session's sandbox (through its files API: the sandbox's view, never the host's). */
export async function spillInto(session: Session, tool: string, label: string, content: string): Promise<string> {
  const sandbox = await session.sandbox();
  const path = `/tmp/sandbox-mcp/${tool}-${label}-${randomBytes(4).toString('hex')}.txt`;
  await sandbox.files.write(path, content);
  let kept = spills.get(session);
  if (!kept) spills.set(session, (kept = []));
  kept.push(path);
  for (const old of kept.splice(0, Math.max(0, kept.length - SPILLS_KEPT)))
    await sandbox.files.remove(old).catch(() => undefined);
  return path;
}

function spilledNote(ctx: Pick<ToolContext, 'tool'>, what: string, path: string) {
  return (omitted: number) =>
    `... [${omitted} characters left out here: the whole ${what} is in ${path}; page through it with ${ctx.tool('file_read')} (offset, limit) or search it with ${ctx.tool('file_search')}] ...`;
}

/**
 * A result whose text and structured content would both carry big outputs (`outputs`, named as their
 * structured fields). Sent as is when the whole fits the budget. Otherwise the outputs leave the
 * structured content (those fields are optional) and only the text carries them: each whole, or, when
 * too big, its head and tail, its whole written to a file whose path the structured content gives as
 * `<name>Path` and the text names.
 */
export async function budgeted(
  ctx: ToolContext,
  structured: Record<string, unknown>,
  outputs: Record<string, string>,
  render: (outputs: Record<string, string>) => string,
  /** What the structured content holds for an output while it fits, when not its text (a list of matches). */
  values: Record<string, unknown> = outputs,
): Promise<ToolResult> {
  const budget = ctx.config.resultMaxKb * 1024;
  const whole = ok({ ...structured, ...values }, render(outputs));
  if (sentBytes(whole) <= budget) return whole;
  const names = Object.keys(outputs);
  const empty = Object.fromEntries(names.map((n) => [n, '']));
  // Room for each output's path, in the structured content and in the text's note.
  const fixed = sentBytes(ok(structured, render(empty))) + names.length * 400;
  let room = budget - fixed;
  const fitted: Record<string, string> = {};
  const paths: Record<string, string> = {};
  // Smallest first: an output that fits its share leaves the rest of it to the bigger ones.
  const bySize = [...names].sort((a, b) => jsonBytes(outputs[a]!) - jsonBytes(outputs[b]!));
  for (const [i, name] of bySize.entries()) {
    const text = outputs[name]!;
    const share = Math.floor(room / (bySize.length - i));
    if (jsonBytes(text) <= share) fitted[name] = text;
    else {
      const path = await ctx.spill(name, text);
      paths[`${name}Path`] = path;
      fitted[name] = headTail(text, share, spilledNote(ctx, name, path));
    }
    room -= jsonBytes(fitted[name]!);
  }
  return ok({ ...structured, ...paths }, render(fitted));
}

/** Long strings of structured content cut to a head, each saying where the rest is. */
function shortened(value: unknown, where: string): unknown {
  if (typeof value === 'string')
    return value.length <= 1024 ? value : `${value.slice(0, 512)}... [${value.length - 512} more characters: ${where}]`;
  if (Array.isArray(value)) return value.map((v) => shortened(v, where));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shortened(v, where)]));
  return value;
}

/**
 * Structured content cut to `maxBytes` (JSON) by halving its longest arrays: a listing of thousands of
 * entries keeps its first ones. The items kept are whole, so the content still matches its schema.
 */
export function trimmedArrays(value: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  const trimmed = structuredClone(value);
  for (let round = 0; round < 64 && Buffer.byteLength(JSON.stringify(trimmed)) > maxBytes; round++) {
    let longest: unknown[] | undefined;
    let longestBytes = 0;
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) {
        const bytes = Buffer.byteLength(JSON.stringify(node));
        if (node.length > 0 && bytes > longestBytes) [longest, longestBytes] = [node, bytes];
        node.forEach(visit);
      } else if (node && typeof node === 'object') Object.values(node).forEach(visit);
    };
    visit(trimmed);
    if (!longest) break;
    longest.splice(Math.floor(longest.length / 2));
  }
  return trimmed;
}

/**
 * The budget held for every tool, whatever its handler returned: a result still over it has its long
 * structured strings cut, and its text cut to head and tail with the whole in a spill file (when the
 * call has a sandbox to write it to). Tools with big outputs shape their results themselves first
 * (`budgeted`, file_read's paging); this catches the rest.
 */
export async function withinBudget(
  result: ToolResult,
  budget: number,
  ctx: Pick<ToolContext, 'tool'> & { spill?: ToolContext['spill'] },
): Promise<ToolResult> {
  if (result.isError || sentBytes(result) <= budget) return result;
  const texts = (result.content ?? []).flatMap((b) => (b.type === 'text' ? [b.text] : []));
  const whole = texts.join('\n');
  const path = ctx.spill && jsonBytes(whole) > budget / 2 ? await ctx.spill('result', whole) : undefined;
  // The structured content gets at most half the budget: the text keeps the other half for its head and tail.
  const structured =
    result.structuredContent &&
    trimmedArrays(
      shortened(result.structuredContent, path ? `whole in ${path}` : 'see the text content') as Record<
        string,
        unknown
      >,
      Math.floor(budget / 2),
    );
  const room = budget - (structured ? Buffer.byteLength(JSON.stringify(structured)) : 0) - 100;
  const marker = path
    ? spilledNote(ctx, 'result', path)
    : (omitted: number) => `... [${omitted} characters left out here] ...`;
  const others = (result.content ?? []).filter((b) => b.type !== 'text');
  const content: ToolResult['content'] = [{ type: 'text', text: headTail(whole, room, marker) }, ...others];
  return structured ? { ...result, structuredContent: structured, content } : { ...result, content };
}
