/** One file of a site version: its content's sha256 (the blob's name) and size. */
export interface FileEntry {
  sha256: string;
  size: number;
}

/**
 * One immutable version of a site. `files` maps a path inside the site to its blob. The paths come from
 * the sandbox, so in memory they live in a Map: "__proto__", "constructor" or "toString" are file names
 * like any other, never a lookup that reaches Object.prototype.
 */
export interface Manifest {
  site: string;
  version: string;
  createdAt: string;
  source: string;
  totalBytes: number;
  files: Map<string, FileEntry>;
}

const SHA256 = /^[0-9a-f]{64}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A manifest file as written by serializeManifest, or undefined when it is not one (corrupt, or a file
 * that is no manifest): a blob name must be a sha256, never a path that could lead out of the store.
 */
export function parseManifest(json: string): Manifest | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || !isRecord(raw.files)) return undefined;
  const { site, version, createdAt, source, totalBytes } = raw;
  if (
    typeof site !== 'string' ||
    typeof version !== 'string' ||
    typeof createdAt !== 'string' ||
    typeof source !== 'string' ||
    typeof totalBytes !== 'number'
  )
    return undefined;
  const files = new Map<string, FileEntry>();
  // JSON.parse makes every key an own property ("__proto__" included), which Object.entries lists.
  for (const [path, entry] of Object.entries(raw.files)) {
    if (!isRecord(entry) || typeof entry.sha256 !== 'string' || !SHA256.test(entry.sha256)) return undefined;
    if (typeof entry.size !== 'number' || !Number.isSafeInteger(entry.size) || entry.size < 0) return undefined;
    files.set(path, { sha256: entry.sha256, size: entry.size });
  }
  return { site, version, createdAt, source: sourceFolder(source), totalBytes, files };
}

/**
 * Versions published before sources were folder paths only recorded `<sandboxId>:<folder>`: the id is the
 * capability behind that sandbox's preview URLs, so it is dropped when such a version is read.
 */
function sourceFolder(source: string): string {
  return source.replace(/^[a-z0-9]{8,64}:(?=\/)/, '');
}

/** Object.fromEntries defines own properties, so a "__proto__" path is written out like any other. */
export function serializeManifest(manifest: Manifest): string {
  return JSON.stringify({ ...manifest, files: Object.fromEntries(manifest.files) });
}
