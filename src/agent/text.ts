import type { FileHandle } from 'node:fs/promises';
import { AgentError } from './errors.js';
import { sniff, SNIFF_BYTES } from './sniff.js';

const CHUNK = 1 << 20;

export interface TextRange {
  kind: 'text' | 'image' | 'binary';
  mimeType?: string;
  /** UTF-8 bytes of the lines asked for. */
  bytes: Buffer;
  startLine: number;
  endLine: number;
  totalLines: number;
  truncated: boolean;
}

/**
 * Lines [offset, offset + limit) of an open file, at most maxBytes of them. One pass finds the byte
 * range and counts every line (a 10 MB file is scanned in ~10 ms), then one positioned read fetches
 * just that range, so memory stays at one chunk plus the answer.
 */
export async function readTextRange(
  fileHandle: FileHandle,
  size: number,
  args: { offset?: number; limit?: number; maxBytes: number },
): Promise<TextRange> {
  const start = args.offset ?? 1;
  const last = args.limit === undefined ? Infinity : start + args.limit - 1;
  if (!Number.isInteger(start) || start < 1)
    throw new AgentError(
      'INVALID_ARGUMENT',
      'offset must be a whole number >= 1 (the first line to read)',
      'pass offset: 1 for the start of the file',
    );
  if (args.limit !== undefined && (!Number.isInteger(args.limit) || args.limit < 1))
    throw new AgentError(
      'INVALID_ARGUMENT',
      'limit must be a whole number >= 1 (lines to read)',
      'omit limit to read to the end',
    );
  const head = Buffer.alloc(Math.min(SNIFF_BYTES, size));
  if (head.length) await fileHandle.read(head, 0, head.length, 0);
  const kind = sniff(head);
  if (kind.kind !== 'text')
    return { ...kind, bytes: Buffer.alloc(0), startLine: start, endLine: start - 1, totalLines: 0, truncated: false };

  let line = 1; // the line the next byte belongs to
  let startByte = start === 1 ? 0 : -1;
  let endByte = -1;
  let endLine = start - 1;
  let capped = false;
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
  // Called at each line end (exclusive byte offset e, newline included) to grow the range.
  const lineEnded = (lineEndByte: number) => {
    if (capped || line < start || line > last) return;
    if (lineEndByte - startByte <= args.maxBytes) {
      endByte = lineEndByte;
      endLine = line;
    } else capped = true;
  };
  for (let base = 0; base < size;) {
    const { bytesRead } = await fileHandle.read(buf, 0, Math.min(buf.length, size - base), base);
    if (bytesRead === 0) break;
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0 || nl >= bytesRead) break;
      lineEnded(base + nl + 1);
      line++;
      if (line === start) startByte = base + nl + 1;
      pos = nl + 1;
    }
    base += bytesRead;
  }
  // A last line without a newline still counts.
  const tail = size > 0 && !(await endsWithNewline(fileHandle, size));
  if (tail) lineEnded(size);
  const totalLines = tail ? line : line - 1;
  if (startByte < 0 || start > totalLines)
    return { kind: 'text', bytes: Buffer.alloc(0), startLine: start, endLine: start - 1, totalLines, truncated: false };
  let truncated = capped;
  if (endByte < 0) {
    // The first line alone is over the cap: return its head, cut on a UTF-8 boundary.
    endByte = await utf8Boundary(fileHandle, startByte + args.maxBytes, startByte);
    endLine = start;
    truncated = true;
  }
  const out = Buffer.allocUnsafe(endByte - startByte);
  let got = 0;
  while (got < out.length) {
    const { bytesRead } = await fileHandle.read(out, got, out.length - got, startByte + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { kind: 'text', bytes: out.subarray(0, got), startLine: start, endLine, totalLines, truncated };
}

async function endsWithNewline(fileHandle: FileHandle, size: number): Promise<boolean> {
  const b = Buffer.alloc(1);
  await fileHandle.read(b, 0, 1, size - 1);
  return b[0] === 10;
}

/** Moves `at` back so it does not split a UTF-8 sequence (never before `min`). */
async function utf8Boundary(fileHandle: FileHandle, at: number, min: number): Promise<number> {
  const b = Buffer.alloc(1);
  for (let p = at, i = 0; p > min && i < 4; p--, i++) {
    await fileHandle.read(b, 0, 1, p);
    if ((b[0]! & 0xc0) !== 0x80) return p;
  }
  return at;
}
