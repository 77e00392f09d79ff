import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { SandboxError } from '../errors.js';
import { parseManifest, serializeManifest, type FileEntry, type Manifest } from './manifest.js';
import { SiteOwners, refusal, type Actor, type Principal } from './owner.js';
import { serveSite } from './serve.js';
import {
  SITE_NAME,
  type DeployTarget,
  type SiteInfo,
  type SiteRecord,
  type SourceFile,
  type VersionInfo,
} from './target.js';

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
 * immutable manifest under `deploy/sites/<name>/versions/<id>.json`, `live.json` naming the version
 * served and `owner.json` who may change the site. Everything is in the state dir, so sites outlive
 * sessions, sandboxes and restarts.
 */
export class LocalSiteStore implements DeployTarget {
  readonly kind = 'local';
  private readonly root: string;
  private readonly manifests = new Map<string, Manifest>();
  private readonly owners: SiteOwners;
  /** One publish, rollback, delete or blob sweep at a time within this server. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    stateDir: string,
    private readonly urlFor: (site: string) => Promise<string>,
  ) {
    this.root = path.join(stateDir, 'deploy');
    this.owners = new SiteOwners(this.root);
  }

  /** The actor a session's principal (its named workspace, else itself) is to this store. */
  async actorFor(principal: Principal): Promise<Actor> {
    return { owner: await this.owners.ownerOf(principal) };
  }

  /** Refuses early (before a folder is read) when the site belongs to someone else. */
  checkOwner(site: string, actor: Actor): Promise<void> {
    checkSiteName(site);
    return this.owners.check(site, this.siteDir(site), actor);
  }

  private siteDir = (site: string) => path.join(this.root, 'sites', site);
  private blobPath = (sha: string) => path.join(this.root, 'blobs', sha.slice(0, 2), sha);

  private exclusive<T>(callback: () => Promise<T>): Promise<T> {
    const run = this.lock.then(callback, callback);
    this.lock = run.catch(() => undefined);
    return run;
  }

  url(site: string): Promise<string> {
    return this.urlFor(site);
  }

  publish(site: string, files: SourceFile[], source: string, actor: Actor): Promise<VersionInfo> {
    checkSiteName(site);
    return this.exclusive(async () => {
      await this.owners.check(site, this.siteDir(site), actor);
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
      // Claimed once the content is stored, so a failed upload leaves no name taken.
      const claimed = await this.owners.claim(site, this.siteDir(site), actor);
      try {
        return await this.writeVersion(site, entries, totalBytes, source);
      } catch (e) {
        if (claimed && !(await this.versionIds(site)).length)
          await this.owners.unclaim(this.siteDir(site)).catch(() => undefined);
        throw e;
      }
    });
  }

  /** The next version number, written with 'wx': a version stays immutable even if another server races us. */
  private async writeVersion(
    site: string,
    files: Map<string, FileEntry>,
    totalBytes: number,
    source: string,
  ): Promise<VersionInfo> {
    const versionsDir = path.join(this.siteDir(site), 'versions');
    await fs.mkdir(versionsDir, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      const n = (await this.versionIds(site)).reduce((m, v) => Math.max(m, Number(v.slice(1)) || 0), 0) + 1;
      const manifest: Manifest = {
        site,
        version: `v${n}`,
        createdAt: new Date().toISOString(),
        source,
        totalBytes,
        files,
      };
      try {
        await fs.writeFile(path.join(versionsDir, `${manifest.version}.json`), serializeManifest(manifest), {
          flag: 'wx',
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue;
        throw e;
      }
      // A site deleted (by the CLI, another server) and published again reuses version ids: no stale cache.
      this.manifests.set(`${site}/${manifest.version}`, manifest);
      await this.setLive(site, manifest.version);
      return this.info(manifest, manifest.version);
    }
  }

  private async putBlob(sourceFile: SourceFile): Promise<{ sha256: string; size: number }> {
    const tmpDir = path.join(this.root, 'blobs', 'tmp');
    await fs.mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const fh = await fs.open(tmp, 'w');
    try {
      for await (const chunk of sourceFile.read()) {
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
    if (await fs.stat(dest).catch(() => undefined)) {
      await fs.rm(tmp, { force: true });
      // Reused: touched, so a sweep by another process (its grace time) sees it as in use.
      const now = new Date();
      await fs.utimes(dest, now, now).catch(() => undefined);
    } else await fs.rename(tmp, dest);
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
      return (JSON.parse(await fs.readFile(path.join(this.siteDir(site), 'live.json'), 'utf8')) as { version: string })
        .version;
    } catch {
      return null;
    }
  }

  private async versionIds(site: string): Promise<string[]> {
    const names = await fs.readdir(path.join(this.siteDir(site), 'versions')).catch(() => [] as string[]);
    return names
      .filter((n) => /^v\d+\.json$/.test(n))
      .map((n) => n.slice(0, -5))
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  }

  private async manifest(site: string, version: string): Promise<Manifest | undefined> {
    // A version names a file: anything but `v<n>` could walk out of the store to a JSON file the sandbox wrote.
    if (!VERSION_ID.test(version)) return undefined;
    const key = `${site}/${version}`;
    const cached = this.manifests.get(key);
    if (cached) return cached;
    const m = parseManifest(
      await fs.readFile(path.join(this.siteDir(site), 'versions', `${version}.json`), 'utf8').catch(() => ''),
    );
    if (m) this.manifests.set(key, m);
    return m;
  }

  private info(manifest: Manifest, live: string | null): VersionInfo {
    return {
      version: manifest.version,
      createdAt: manifest.createdAt,
      fileCount: manifest.files.size,
      totalBytes: manifest.totalBytes,
      live: manifest.version === live,
      source: manifest.source,
    };
  }

  /** One site as stored, or undefined when it has no version. */
  private async record(name: string): Promise<SiteRecord | undefined> {
    const ids = await this.versionIds(name);
    if (!ids.length) return undefined;
    const live = await this.liveVersion(name);
    const versions = (await Promise.all(ids.map((v) => this.manifest(name, v))))
      .filter((m): m is Manifest => !!m)
      .map((m) => this.info(m, live));
    return { name, owner: await this.owners.read(this.siteDir(name)), live, versions };
  }

  /** Every site with its owner value (null: deployed before owners were recorded), for the operator. */
  async records(): Promise<SiteRecord[]> {
    const names = (await fs.readdir(path.join(this.root, 'sites')).catch(() => [] as string[]))
      .filter((n) => SITE_NAME.test(n))
      .sort();
    return (await Promise.all(names.map((n) => this.record(n)))).filter((r): r is SiteRecord => !!r);
  }

  /** The actor's sites (the operator's: all), or the one named, which must be theirs. */
  async list(site: string | undefined, actor: Actor): Promise<SiteInfo[]> {
    if (site !== undefined) checkSiteName(site);
    const records =
      site === undefined ? await this.records() : [await this.record(site)].filter((r): r is SiteRecord => !!r);
    if (site !== undefined && !records.length)
      throw new SandboxError('NOT_FOUND', `no site named "${site}"`, {
        hint: 'deploy_list shows your sites; deploy_site publishes a new one',
      });
    const out: SiteInfo[] = [];
    for (const r of records) {
      if (actor !== 'operator' && r.owner !== actor.owner) {
        if (site === undefined) continue;
        if (r.owner !== null) throw refusal(site, r.owner);
        throw new SandboxError(
          'PERMISSION_DENIED',
          `site "${site}" has no owner yet: it was deployed before sites had owners (versions: ${r.versions.map((v) => v.version).join(', ')}; live: ${r.live})`,
          {
            hint: 'the first session to change it (deploy_site, deploy_rollback or deploy_delete) becomes its owner',
          },
        );
      }
      out.push({ name: r.name, url: await this.url(r.name), live: r.live, versions: r.versions });
    }
    return out;
  }

  rollback(site: string, version: string, actor: Actor): Promise<VersionInfo> {
    checkSiteName(site);
    return this.exclusive(async () => {
      const ids = await this.versionIds(site);
      if (!ids.length)
        throw new SandboxError('NOT_FOUND', `no site named "${site}"`, { hint: 'deploy_list shows your sites' });
      await this.owners.check(site, this.siteDir(site), actor);
      const m = await this.manifest(site, version);
      if (!m)
        throw new SandboxError(
          'NOT_FOUND',
          `site "${site}" has no version "${version}" (versions: ${ids.join(', ')})`,
          { hint: 'pass one of the listed versions' },
        );
      await this.owners.claim(site, this.siteDir(site), actor);
      await this.setLive(site, version);
      return this.info(m, version);
    });
  }

  /** Deletes a site with its versions. `blobGraceMs`: see sweepBlobs. */
  remove(site: string, actor: Actor, blobGraceMs = 0): Promise<{ versions: number }> {
    checkSiteName(site);
    return this.exclusive(async () => {
      const ids = await this.versionIds(site);
      if (!ids.length)
        throw new SandboxError('NOT_FOUND', `no site named "${site}"`, { hint: 'deploy_list shows your sites' });
      await this.owners.check(site, this.siteDir(site), actor);
      await fs.rm(this.siteDir(site), { recursive: true, force: true });
      for (const key of [...this.manifests.keys()]) if (key.startsWith(`${site}/`)) this.manifests.delete(key);
      await this.sweepBlobs(blobGraceMs);
      return { versions: ids.length };
    });
  }

  /**
   * Deletes blobs no remaining version refers to, so a deleted site's content leaves the disk. Another
   * process (the CLI) cannot see this server's publish in progress: it passes a grace time, and blobs
   * written or reused (touched) more recently than that stay.
   */
  private async sweepBlobs(graceMs = 0): Promise<void> {
    const cutoff = Date.now() - graceMs;
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
        if (used.has(sha)) continue;
        const blob = path.join(blobs, prefix, sha);
        if (graceMs && ((await fs.stat(blob).catch(() => undefined))?.mtimeMs ?? 0) > cutoff) continue;
        await fs.rm(blob, { force: true });
      }
    }
  }

  /** Serves the live version of a site (the web host's site handler). */
  serve = async (site: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const live = await this.liveVersion(site);
    serveSite(site, live ? await this.manifest(site, live) : undefined, this.blobPath, req, res);
  };
}
