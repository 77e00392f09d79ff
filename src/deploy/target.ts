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

/**
 * Where deploy_site publishes: `local` (the content-addressed store served by this server) now;
 * remote hosts (Cloudflare Pages, Netlify, ...) later, configured by token, behind the same methods.
 */
export interface DeployTarget {
  readonly kind: string;
  publish(site: string, files: SourceFile[], source: string): Promise<VersionInfo>;
  list(site?: string): Promise<SiteInfo[]>;
  rollback(site: string, version: string): Promise<VersionInfo>;
  remove(site: string): Promise<{ versions: number }>;
  url(site: string): Promise<string>;
}

/** DNS label rules: what a site name must be to work as `<name>.site.localhost` or a subdomain. */
export const SITE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
