import type { Actor } from './owner.js';

/** One file of a folder being published, read lazily (in chunks) from wherever it lives. */
export interface SourceFile {
  /** Path inside the site, `/`-separated, no leading slash. */
  path: string;
  size: number;
  read(): AsyncIterable<Buffer>;
}

export interface VersionInfo {
  version: string;
  createdAt: string;
  fileCount: number;
  totalBytes: number;
  live: boolean;
  /** The folder inside the sandbox it was published from; never the sandbox id (a preview capability). */
  source: string;
}

export interface SiteInfo {
  name: string;
  url: string;
  live: string | null;
  versions: VersionInfo[];
}

/** A site as stored: its owner value (null: none recorded, deployed before sites had owners). */
export interface SiteRecord {
  name: string;
  owner: string | null;
  live: string | null;
  versions: VersionInfo[];
}

/**
 * Where deploy_site publishes: `local` (the content-addressed store served by this server) now;
 * remote hosts (Cloudflare Pages, Netlify, ...) later, configured by token, behind the same methods.
 */
export interface DeployTarget {
  readonly kind: string;
  /** Each change is made by an actor (a session's owner value, or the operator), refused unless it owns the site. */
  publish(site: string, files: SourceFile[], source: string, actor: Actor): Promise<VersionInfo>;
  /** The actor's sites only (the operator's: all). */
  list(site: string | undefined, actor: Actor): Promise<SiteInfo[]>;
  rollback(site: string, version: string, actor: Actor): Promise<VersionInfo>;
  remove(site: string, actor: Actor): Promise<{ versions: number }>;
  url(site: string): Promise<string>;
}

/** DNS label rules: what a site name must be to work as `<name>.site.localhost` or a subdomain. */
export const SITE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
