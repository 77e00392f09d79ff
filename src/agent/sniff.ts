/** Bytes enough to tell text from binary and recognise an image. */
export const SNIFF_BYTES = 8192;

export type Kind = 'text' | 'image' | 'binary';

/**
 * Images MCP clients can show (PNG, JPEG, GIF, WebP); else text when the head is valid UTF-8 (a
 * sequence cut by the end of the sample is fine) without NULs and mostly free of control bytes.
 */
export function sniff(head: Buffer): { kind: Kind; mimeType?: string } {
  const mimeType = imageType(head);
  if (mimeType) return { kind: 'image', mimeType };
  if (head.includes(0)) return { kind: 'binary' };
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
  } catch {
    return { kind: 'binary' };
  }
  let control = 0;
  for (const b of head)
    if ((b < 0x20 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 8 && b !== 27) || b === 0x7f) control++;
  return { kind: head.length > 0 && control / head.length > 0.3 ? 'binary' : 'text' };
}

function imageType(data: Buffer): string | undefined {
  if (data.length >= 8 && data.readUInt32BE(0) === 0x89504e47 && data.readUInt32BE(4) === 0x0d0a1a0a)
    return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  if (data.length >= 6 && /^GIF8[79]a$/.test(data.toString('latin1', 0, 6))) return 'image/gif';
  if (data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.toString('latin1', 8, 12) === 'WEBP')
    return 'image/webp';
  return undefined;
}
