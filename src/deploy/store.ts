import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { SandboxError } from '../errors.js';
import { parseManifest, serializeManifest, type FileEntry, type Manifest } from './manifest.js';
import { serveSite } from './serve.js';
import { SITE_NAME, type DeployTarget, type SiteInfo, type SourceFile, type VersionInfo } from './target.js';

const VERSION_ID = /^v\d{1,15}$/;

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
      const entries = new Map<string, FileEntry>();
      let totalBytes = 0;
      try {
        for (const f of files) {
          const { sha256, size } = await this.putBlob(f);
          entries.set(f.path, { sha256, size });
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
          await fs.writeFile(path.join(versionsDir, `${manifest.version}.json`), serializeManifest(manifest), { flag: 'wx' });
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
    const m = parseManifest(await fs.readFile(path.join(this.siteDir(site), 'versions', `${version}.json`), 'utf8').catch(() => ''));
    if (m) this.manifests.set(key, m);
    return m;
  }

  private info(m: Manifest, live: string | null): VersionInfo {
    return { version: m.version, createdAt: m.createdAt, fileCount: m.files.size, totalBytes: m.totalBytes, live: m.version === live, source: m.source };
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
        for (const f of m?.files.values() ?? []) used.add(f.sha256);
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

  /** Serves the live version of a site (the web host's site handler). */
  serve = async (site: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const live = await this.liveVersion(site);
    serveSite(site, live ? await this.manifest(site, live) : undefined, this.blobPath, req, res);
  };
}
