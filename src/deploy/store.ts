import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { SandboxError } from '../errors.js';
import { contentType } from './mime.js';
import { SITE_NAME, type DeployTarget, type SiteInfo, type SourceFile, type VersionInfo } from './target.js';

const VERSION_ID = /^v\d{1,15}$/;

interface Manifest {
  site: string;
  version: string;
  createdAt: string;
  source: string;
  totalBytes: number;
  files: Record<string, { sha256: string; size: number }>;
}

export function checkSiteName(name: string): void {
  if (!SITE_NAME.test(name)) {
    throw new SandboxError('INVALID_ARGUMENT', `site name ${JSON.stringify(name)} is not a valid DNS label`, {
      hint: 'use 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen, e.g. "my-blog"',
    });
  }
}

/**
 * The local deploy target: file contents stored once by sha256 under `deploy/blobs`, each version an
 * immutable manifest under `deploy/sites/<name>/versions/<id>.json`, and `live.json` naming the version
 * served. Everything is in the state dir, so sites outlive sessions, sandboxes and restarts.
 */
export class LocalSiteStore implements DeployTarget {
  readonly kind = 'local';
  private readonly root: string;
  private readonly manifests = new Map<string, Manifest>();
  /** One publish, rollback, delete or blob sweep at a time within this server. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(stateDir: string, private readonly urlFor: (site: string) => Promise<string>) {
    this.root = path.join(stateDir, 'deploy');
  }

  private siteDir = (site: string) => path.join(this.root, 'sites', site);
  private blobPath = (sha: string) => path.join(this.root, 'blobs', sha.slice(0, 2), sha);

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  url(site: string): Promise<string> {
    return this.urlFor(site);
  }

  publish(site: string, files: SourceFile[], source: string): Promise<VersionInfo> {
    checkSiteName(site);
    return this.exclusive(async () => {
      const entries: Manifest['files'] = {};
      let totalBytes = 0;
      try {
        for (const f of files) {
          const { sha256, size } = await this.putBlob(f);
          entries[f.path] = { sha256, size };
          totalBytes += size;
        }
      } catch (e) {
        // Nothing half-written: blobs only this failed version would have used go again.
        await this.sweepBlobs().catch(() => undefined);
        throw e;
      }
      const versionsDir = path.join(this.siteDir(site), 'versions');
      await fs.mkdir(versionsDir, { recursive: true });
      // Versions count up per site; 'wx' keeps a version immutable even if another server races us.
      for (let attempt = 0; ; attempt++) {
        const n = (await this.versionIds(site)).reduce((m, v) => Math.max(m, Number(v.slice(1)) || 0), 0) + 1;
        const manifest: Manifest = { site, version: `v${n}`, createdAt: new Date().toISOString(), source, totalBytes, files: entries };
        try {
          await fs.writeFile(path.join(versionsDir, `${manifest.version}.json`), JSON.stringify(manifest), { flag: 'wx' });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue;
          throw e;
        }
        await this.setLive(site, manifest.version);
        return this.info(manifest, manifest.version);
      }
    });
  }

  private async putBlob(f: SourceFile): Promise<{ sha256: string; size: number }> {
    const tmpDir = path.join(this.root, 'blobs', 'tmp');
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const fh = await fs.open(tmp, 'w');
    try {
      for await (const chunk of f.read()) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
    } catch (e) {
      await fh.close();
      await fs.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    const sha256 = hash.digest('hex');
    const dest = this.blobPath(sha256);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    if (await fs.stat(dest).catch(() => undefined)) await fs.rm(tmp, { force: true });
    else await fs.rename(tmp, dest);
    return { sha256, size };
  }

  private async setLive(site: string, version: string): Promise<void> {
    const file = path.join(this.siteDir(site), 'live.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, JSON.stringify({ version, updatedAt: new Date().toISOString() }));
    await fs.rename(tmp, file);
  }

  private async liveVersion(site: string): Promise<string | null> {
    try {
      return (JSON.parse(await fs.readFile(path.join(this.siteDir(site), 'live.json'), 'utf8')) as { version: string }).version;
    } catch {
      return null;
    }
  }

  private async versionIds(site: string): Promise<string[]> {
    const names = await fs.readdir(path.join(this.siteDir(site), 'versions')).catch(() => [] as string[]);
    return names.filter((n) => /^v\d+\.json$/.test(n)).map((n) => n.slice(0, -5)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  }

  private async manifest(site: string, version: string): Promise<Manifest | undefined> {
    // A version names a file: anything but `v<n>` could walk out of the store to a JSON file the sandbox wrote.
    if (!VERSION_ID.test(version)) return undefined;
    const key = `${site}/${version}`;
    const cached = this.manifests.get(key);
    if (cached) return cached;
    try {
      const m = JSON.parse(await fs.readFile(path.join(this.siteDir(site), 'versions', `${version}.json`), 'utf8')) as Manifest;
      this.manifests.set(key, m);
      return m;
    } catch {
      return undefined;
    }
  }

  private info(m: Manifest, live: string | null): VersionInfo {
    return { version: m.version, createdAt: m.createdAt, fileCount: Object.keys(m.files).length, totalBytes: m.totalBytes, live: m.version === live, source: m.source };
  }

  async list(site?: string): Promise<SiteInfo[]> {
    if (site !== undefined) checkSiteName(site);
    const names = site !== undefined ? [site] : (await fs.readdir(path.join(this.root, 'sites')).catch(() => [] as string[])).filter((n) => SITE_NAME.test(n)).sort();
    const out: SiteInfo[] = [];
    for (const name of names) {
      const ids = await this.versionIds(name);
      if (!ids.length) continue;
      const live = await this.liveVersion(name);
      const versions = (await Promise.all(ids.map((v) => this.manifest(name, v)))).filter((m): m is Manifest => !!m).map((m) => this.info(m, live));
      out.push({ name, url: await this.url(name), live, versions });
    }
    if (site !== undefined && !out.length) throw new SandboxError('NOT_FOUND', `no site named "${site}"`, { hint: 'deploy_list shows the sites; deploy_site publishes a new one' });
    return out;
  }

  rollback(site: string, version: string): Promise<VersionInfo> {
    checkSiteName(site);
    return this.exclusive(async () => {
      const m = await this.manifest(site, version);
      if (!m) {
        const ids = await this.versionIds(site);
        if (!ids.length) throw new SandboxError('NOT_FOUND', `no site named "${site}"`, { hint: 'deploy_list shows the sites' });
        throw new SandboxError('NOT_FOUND', `site "${site}" has no version "${version}" (versions: ${ids.join(', ')})`, { hint: 'pass one of the listed versions' });
      }
      await this.setLive(site, version);
      return this.info(m, version);
    });
  }

  remove(site: string): Promise<{ versions: number }> {
    checkSiteName(site);
    return this.exclusive(async () => {
      const ids = await this.versionIds(site);
      if (!ids.length) throw new SandboxError('NOT_FOUND', `no site named "${site}"`, { hint: 'deploy_list shows the sites' });
      await fs.rm(this.siteDir(site), { recursive: true, force: true });
      for (const key of [...this.manifests.keys()]) if (key.startsWith(`${site}/`)) this.manifests.delete(key);
      await this.sweepBlobs();
      return { versions: ids.length };
    });
  }

  /** Deletes blobs no remaining version refers to, so a deleted site's content leaves the disk. */
  private async sweepBlobs(): Promise<void> {
    const used = new Set<string>();
    for (const site of await fs.readdir(path.join(this.root, 'sites')).catch(() => [] as string[])) {
      for (const v of await this.versionIds(site)) {
        const m = await this.manifest(site, v);
        for (const f of Object.values(m?.files ?? {})) used.add(f.sha256);
      }
    }
    const blobs = path.join(this.root, 'blobs');
    for (const prefix of await fs.readdir(blobs).catch(() => [] as string[])) {
      if (prefix === 'tmp') continue;
      for (const sha of await fs.readdir(path.join(blobs, prefix)).catch(() => [] as string[])) {
        if (!used.has(sha)) await fs.rm(path.join(blobs, prefix, sha), { force: true });
      }
    }
  }

  /** Serves the live version of a site: index.html for folders, the site's 404.html (or ours) when missing. */
  serve = async (site: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const live = await this.liveVersion(site);
    const m = live ? await this.manifest(site, live) : undefined;
    if (!m) return page(res, 404, 'Site not found', `There is no site named “${site}” here (or it was deleted).`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('405 Method Not Allowed\n');
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
    if (!m.files[key] && m.files[`${rel}/index.html`]) {
      // Encoded: a raw name may hold characters a header cannot carry; one leading slash: "//x/" would leave the site.
      res.writeHead(301, { location: `/${rel.split('/').map(encodeURIComponent).join('/')}/${query}` }).end();
      return;
    }
    let status = 200;
    if (!m.files[key]) {
      if (!m.files['404.html']) return page(res, 404, 'Page not found', `“${pathname}” is not part of this site.`);
      key = '404.html';
      status = 404;
    }
    const f = m.files[key]!;
    const etag = `"${f.sha256}"`;
    const headers = { 'content-type': contentType(key), etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'x-site-version': m.version, 'accept-ranges': 'bytes' };
    if (status === 200 && etagMatches(req.headers['if-none-match'], etag)) { res.writeHead(304, headers).end(); return; }
    const ifRange = req.headers['if-range'];
    const range = status === 200 && req.headers.range && (!ifRange || ifRange === etag) ? byteRange(req.headers.range, f.size) : undefined;
    if (range === 'unsatisfiable') { res.writeHead(416, { ...headers, 'content-range': `bytes */${f.size}` }).end(); return; }
    if (range) {
      res.writeHead(206, { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${f.size}`, 'content-length': String(range.end - range.start + 1) });
      if (req.method === 'HEAD') { res.end(); return; }
      // pipeline, not pipe: a client leaving mid-file must close the blob's file descriptor too.
      pipeline(createReadStream(this.blobPath(f.sha256), range), res, () => undefined);
      return;
    }
    res.writeHead(status, { ...headers, 'content-length': String(f.size) });
    if (req.method === 'HEAD') { res.end(); return; }
    pipeline(createReadStream(this.blobPath(f.sha256)), res, () => undefined);
  };
}

/** If-None-Match holds our tag: lists and weak (W/) forms included, as browsers and CDNs send them. */
function etagMatches(header: string | undefined, etag: string): boolean {
  return !!header && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag));
}

/** One `bytes=a-b`, `a-` or `-n` range (media players seek with these); several ranges get the whole file. */
function byteRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start > end || start >= size ? 'unsatisfiable' : { start, end };
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
    .end(`<!doctype html><meta charset="utf-8"><title>${status} ${esc(title)}</title><h1>${status} ${esc(title)}</h1><p>${esc(body)}</p>\n`);
}
