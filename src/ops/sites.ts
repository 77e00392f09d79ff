import type { Config, SitesCommand } from '../config.js';
import { ownerKind } from '../deploy/owner.js';
import { LocalSiteStore } from '../deploy/store.js';
import type { SiteRecord } from '../deploy/target.js';
import { isSandboxError, SandboxError } from '../errors.js';

/**
 * A running server may be publishing while the operator deletes: its new blobs are not in any manifest
 * yet, and this process cannot see them as in use. Blobs touched this recently stay until a later sweep.
 */
const CLI_BLOB_GRACE_MS = 15 * 60_000;

/** Where a site answers, when this process can know it (a public URL, or the HTTP port it was given). */
function siteUrl(config: Config, site: string): string {
  if (config.publicUrl) {
    const u = new URL(config.publicUrl);
    return `${u.protocol}//${site}.site.${u.host}/`;
  }
  return config.port ? `http://${site}.site.localhost:${config.port}/` : '';
}

/** The owner as the operator sees it: its kind and a short fingerprint (equal for sites of one owner), never a name. */
function ownerLabel(owner: string | null): { kind: 'workspace' | 'session'; id: string } | null {
  return owner === null
    ? null
    : { kind: ownerKind(owner), id: owner.slice(owner.indexOf(':') + 1, owner.indexOf(':') + 9) };
}

function table(records: SiteRecord[], config: Config): string {
  if (!records.length)
    return config.workspace
      ? `No sites of workspace ${config.workspace} in ${config.stateDir}.`
      : `No sites in ${config.stateDir}.`;
  const rows = records.map((siteRecord) => {
    const o = ownerLabel(siteRecord.owner);
    const live = siteRecord.versions.find((v) => v.live);
    return [
      siteRecord.name,
      o ? `${o.kind} ${o.id}` : 'none (unclaimed)',
      siteRecord.live ?? '-',
      String(siteRecord.versions.length),
      live ? `${live.fileCount} files, ${live.totalBytes} B` : '-',
      live?.createdAt ?? '-',
      siteUrl(config, siteRecord.name),
    ];
  });
  const head = ['NAME', 'OWNER', 'LIVE', 'VERSIONS', 'LIVE SIZE', 'LIVE SINCE', 'URL'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((result) =>
      result
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `sandbox-mcp sites ...`: works on the state dir directly, with or without a server running on it. */
export async function sites(
  config: Config,
  cmd: SitesCommand,
  opts: { json: boolean },
): Promise<{ exitCode: number; report: string }> {
  const store = new LocalSiteStore(config.stateDir, async (site) => siteUrl(config, site));
  if (cmd.action === 'delete') {
    const r = await store.remove(cmd.name, 'operator', CLI_BLOB_GRACE_MS).catch((error: unknown) => {
      throw isSandboxError(error) && error.code === 'NOT_FOUND'
        ? new SandboxError('NOT_FOUND', `no site named "${cmd.name}" in ${config.stateDir}`, {
            hint: "sandbox-mcp sites list shows the sites (pass the server's --state-dir if it has one)",
          })
        : error;
    });
    return {
      exitCode: 0,
      report: opts.json
        ? JSON.stringify({ name: cmd.name, deletedVersions: r.versions })
        : `Deleted site ${cmd.name} (${r.versions} versions); its URL now answers 404.`,
    };
  }
  let records = await store.records();
  if (config.workspace) {
    const actor = await store.actorFor({ kind: 'workspace', key: config.workspace });
    records = records.filter((r) => actor !== 'operator' && r.owner === actor.owner);
  }
  if (!opts.json) return { exitCode: 0, report: table(records, config) };
  const out = records.map((siteRecord) => ({
    name: siteRecord.name,
    owner: ownerLabel(siteRecord.owner),
    live: siteRecord.live,
    url: siteUrl(config, siteRecord.name) || undefined,
    versions: siteRecord.versions,
  }));
  return { exitCode: 0, report: JSON.stringify({ sites: out }, null, 2) };
}
