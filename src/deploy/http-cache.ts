// Conditional and partial GETs for published sites: what browsers, CDNs and media players send.

/** If-None-Match holds our tag: lists and weak (W/) forms included, as browsers and CDNs send them. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  return !!header && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag));
}

/** One `bytes=a-b`, `a-` or `-n` range (media players seek with these); several ranges get the whole file. */
export function byteRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start > end || start >= size ? 'unsatisfiable' : { start, end };
}
