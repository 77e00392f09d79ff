import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from '../errors.js';

/** Who deploys: a named workspace (by its name) or a single session (by a random key of that session). */
export interface Principal {
  kind: 'workspace' | 'session';
  key: string;
}

/** Who asks to change a site: a session, by its owner value, or the operator at the CLI, who may change any. */
export type Actor = { owner: string } | 'operator';

export type OwnerKind = Principal['kind'];

const OWNER_VALUE = /^(workspace|session):[0-9a-f]{40}$/;
const SECRET = /^[0-9a-f]{64}$/;

/** The kind of principal an owner value stands for ("workspace" or "session"). */
export function ownerKind(owner: string): OwnerKind {
  return owner.startsWith('workspace:') ? 'workspace' : 'session';
}

/**
 * Site ownership, kept beside each site as `owner.json`. The owner value is `<kind>:<HMAC-SHA256>` of the
 * principal under a secret of this state dir (`deploy/owner-secret`), never the workspace name itself: a
 * workspace name is a capability (whoever knows it joins the workspace), and a short name could be
 * recovered from a plain hash by trying words.
 */
export class SiteOwners {
  private secret?: Promise<Buffer>;

  constructor(private readonly root: string) {}

  async ownerOf(principal: Principal): Promise<string> {
    const secret = await this.loadSecret();
    return `${principal.kind}:${createHmac('sha256', secret).update(`${principal.kind}\0${principal.key}`).digest('hex').slice(0, 40)}`;
  }

  /** The owner value recorded for the site in `siteDir`, or null: no owner yet (deployed before owners were recorded). */
  async read(siteDir: string): Promise<string | null> {
    let raw: unknown;
    try {
      raw = JSON.parse(await fs.readFile(path.join(siteDir, 'owner.json'), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const owner = (raw as { owner?: unknown } | null)?.owner;
    if (typeof owner !== 'string' || !OWNER_VALUE.test(owner)) {
      throw new SandboxError('INTERNAL', `the owner record of site "${path.basename(siteDir)}" is corrupt`, {
        hint: 'the operator can delete the site with: sandbox-mcp sites delete NAME',
      });
    }
    return owner;
  }

  /** Refuses `actor` when another principal owns the site; an unowned site passes (see claim). */
  async check(site: string, siteDir: string, actor: Actor): Promise<void> {
    if (actor === 'operator') return;
    const owner = await this.read(siteDir);
    if (owner !== null && owner !== actor.owner) throw refusal(site, owner);
  }

  /**
   * Makes `actor` the owner of an unowned site (a new one, or one deployed before owners were recorded:
   * the first session that changes it claims it) or checks it is the owner. True when this call claimed it.
   * Between servers sharing the state dir, link() is the atomic step: only one claim can land.
   */
  async claim(site: string, siteDir: string, actor: Actor): Promise<boolean> {
    if (actor === 'operator') return false;
    await this.check(site, siteDir, actor);
    if ((await this.read(siteDir)) === actor.owner) return false;
    await fs.mkdir(siteDir, { recursive: true });
    const file = path.join(siteDir, 'owner.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, JSON.stringify({ owner: actor.owner, claimedAt: new Date().toISOString() }));
    try {
      await fs.link(tmp, file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      await this.check(site, siteDir, actor); // another server claimed it a moment ago
      return false;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /** Gives back a claim this server just made for a version that then failed to be written. */
  async unclaim(siteDir: string): Promise<void> {
    await fs.rm(path.join(siteDir, 'owner.json'), { force: true });
  }

  private loadSecret(): Promise<Buffer> {
    this.secret ??= readOrCreateSecret(path.join(this.root, 'owner-secret'));
    this.secret.catch(() => {
      this.secret = undefined;
    });
    return this.secret;
  }
}

/** The refusal a session gets for a site it does not own: what the rule is and what to do instead. */
export function refusal(site: string, owner: string): SandboxError {
  const other = ownerKind(owner) === 'workspace' ? 'another workspace' : 'another session';
  return new SandboxError('PERMISSION_DENIED', `site "${site}" belongs to ${other}; pick another name`, {
    hint: 'only the named workspace (or, without one, the session) that deployed a site may redeploy, roll back or delete it; to keep sites across sessions, use a named workspace (Sandbox-Workspace header, ?workspace=, SANDBOX_WORKSPACE)',
  });
}

/** Created once per state dir, by link() so that two servers starting together agree on one secret. */
async function readOrCreateSecret(file: string): Promise<Buffer> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, randomBytes(32).toString('hex'), { mode: 0o600 });
  try {
    await fs.link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const hex = (await fs.readFile(file, 'utf8')).trim();
  if (!SECRET.test(hex)) {
    throw new SandboxError('INTERNAL', 'the site owner secret (deploy/owner-secret in the state dir) is corrupt', {
      hint: 'the operator should restore it from a backup; a new secret locks every session out of the sites deployed so far (sandbox-mcp sites delete still removes them)',
    });
  }
  return Buffer.from(hex, 'hex');
}
