import { constants } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import { AgentError } from './errors.js';
import { MAX_TRANSFER_BYTES } from './protocol.js';

/** How much of a file that reports size 0 (/proc, /sys) is read: they hold kilobytes. */
export const PSEUDO_FILE_MAX = 16 << 20;

/**
 * Opens a file for reading only if what was opened is a regular file. The check is on the open
 * descriptor, not the path, so a symlink or FIFO swapped in after a check cannot slip through; and
 * O_NONBLOCK keeps the open of a FIFO from waiting for a writer. Devices (/dev/zero, /dev/urandom,
 * which bwrap's /dev even lists as regular files) never end and are refused, as are FIFOs and sockets.
 */
export async function openRegular(file: string): Promise<{ fh: FileHandle; size: number }> {
  const fh = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await fh.stat();
    if (st.isDirectory())
      throw new AgentError('INVALID_ARGUMENT', `${file} is a directory`, 'use file_list to see its entries');
    if (!st.isFile())
      throw new AgentError(
        'INVALID_ARGUMENT',
        `${file} is not a regular file (a device, FIFO or socket)`,
        'read it with shell_exec instead, e.g. head -c 1000',
      );
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Most of /proc and /sys report size 0 yet have content: their size is what reading them finds. */
export async function contentSize(fileHandle: FileHandle, size: number): Promise<number> {
  if (size > 0) return size;
  const buf = Buffer.allocUnsafe(64 * 1024);
  let total = 0;
  for (;;) {
    const { bytesRead } = await fileHandle.read(buf, 0, buf.length, total);
    total += bytesRead;
    if (bytesRead === 0 || total >= PSEUDO_FILE_MAX) return total;
  }
}

/** The whole content, or undefined when it is over `cap` bytes (size 0 files are read to find out). */
export async function readWhole(fileHandle: FileHandle, size: number, cap: number): Promise<Buffer | undefined> {
  if (size > cap) return undefined;
  if (size > 0) return readAt(fileHandle, 0, size);
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { bytesRead, buffer } = await fileHandle.read(Buffer.allocUnsafe(64 * 1024), 0, 64 * 1024, total);
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    chunks.push(buffer.subarray(0, bytesRead));
    total += bytesRead;
    if (total > cap) return undefined;
  }
}

/**
 * The byte range one read returns: `length` is clamped to MAX_TRANSFER_BYTES (callers page on with
 * offset); a whole-file read (no length) of a bigger file is refused, since it could not be whole.
 */
export function readSpan(file: string, size: number, offset = 0, length?: number): { offset: number; length: number } {
  const from = Math.min(Math.max(0, offset), size);
  if (length === undefined && size - from > MAX_TRANSFER_BYTES) {
    throw new AgentError(
      'LIMIT_EXCEEDED',
      `${file} is ${size} bytes, more than the ${MAX_TRANSFER_BYTES} one read moves`,
      'read it in ranges (file_read with offset and limit), or work on it with shell_exec (head, tail, sed -n, split)',
    );
  }
  return {
    offset: from,
    length: Math.max(0, Math.floor(Math.min(length ?? size - from, size - from, MAX_TRANSFER_BYTES))),
  };
}

/** Reads up to `length` bytes at `offset` (fewer at end of file). */
export async function readAt(fileHandle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fileHandle.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}
