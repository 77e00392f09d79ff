import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import type { Manifest } from './manifest.js';
import { byteRange, etagMatches } from './http-cache.js';
import { contentType } from './mime.js';

/**
 * Answers one request for a site's live version `manifest` (undefined: no such site): index.html for folders,
 * the site's 404.html (or ours) when missing, ETag revalidation and byte ranges.
 */
export function serveSite(
  site: string,
  manifest: Manifest | undefined,
  blobPath: (sha: string) => string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (!manifest) return page(res, 404, 'Site not found', `There is no site named “${site}” here (or it was deleted).`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      .end('405 Method Not Allowed\n');
    return;
  }
  // The path as sent, not new URL(): that would read "//a.js" as a host name and serve the home page.
  const url = req.url ?? '/';
  const query = url.startsWith('/') && url.includes('?') ? url.slice(url.indexOf('?')) : '';
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.startsWith('/') ? url.split('?')[0]! : new URL(url, 'http://site').pathname);
  } catch {
    return page(res, 400, 'Bad request', 'The address is not valid.');
  }
  const rel = path.posix.normalize(`/${pathname}`).replace(/^\/+/, '');
  let key = rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel;
  if (!manifest.files.has(key) && manifest.files.has(`${rel}/index.html`)) {
    // Encoded: a raw name may hold characters a header cannot carry; one leading slash: "//x/" would leave the site.
    res.writeHead(301, { location: `/${rel.split('/').map(encodeURIComponent).join('/')}/${query}` }).end();
    return;
  }
  let status = 200;
  if (!manifest.files.has(key)) {
    if (!manifest.files.has('404.html'))
      return page(res, 404, 'Page not found', `“${pathname}” is not part of this site.`);
    key = '404.html';
    status = 404;
  }
  const f = manifest.files.get(key)!;
  const etag = `"${f.sha256}"`;
  const headers = {
    'content-type': contentType(key),
    etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'x-site-version': manifest.version,
    'accept-ranges': 'bytes',
  };
  if (status === 200 && etagMatches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  const ifRange = req.headers['if-range'];
  const range =
    status === 200 && req.headers.range && (!ifRange || ifRange === etag)
      ? byteRange(req.headers.range, f.size)
      : undefined;
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${f.size}` }).end();
    return;
  }
  if (range) {
    res.writeHead(206, {
      ...headers,
      'content-range': `bytes ${range.start}-${range.end}/${f.size}`,
      'content-length': String(range.end - range.start + 1),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // pipeline, not pipe: a client leaving mid-file must close the blob's file descriptor too.
    pipeline(createReadStream(blobPath(f.sha256), range), res, () => undefined);
    return;
  }
  res.writeHead(status, { ...headers, 'content-length': String(f.size) });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  pipeline(createReadStream(blobPath(f.sha256)), res, () => undefined);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    .end(
      `<!doctype html><meta charset="utf-8"><title>${status} ${esc(title)}</title><h1>${status} ${esc(title)}</h1><p>${esc(body)}</p>\n`,
    );
}
