import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { normaliseHost } from './allow-list.js';

/** What the egress default is built from: the registries this host's own package tools are set to use. */
export interface RegistryDiscovery {
  /** Host names, deduplicated, in the order found. */
  hosts: string[];
  /** npm's registry URL, handed to sandboxes so their npm uses the same (possibly private) registry. */
  npmRegistry?: string;
  /** Where each host came from, for doctor and logs. */
  sources: { tool: 'npm' | 'pip' | 'apt'; url: string }[];
}

/** The variables the package tools read their settings from, captured once at start (Config.packageEnv). */
export const PACKAGE_ENV_VARS = [
  'PATH',
  'HOME',
  'XDG_CONFIG_HOME',
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'PIP_CONFIG_FILE',
  'npm_config_registry',
  'NPM_CONFIG_REGISTRY',
  'npm_config_userconfig',
  'NPM_CONFIG_USERCONFIG',
] as const;

const TOOL_TIMEOUT_MS = 5000;

function run(file: string, args: string[], env: Record<string, string>): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: TOOL_TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout) =>
      resolve(err ? undefined : stdout.trim()),
    );
  });
}

/**
 * Reads npm's registry (npm itself answers, with its env and npmrc files), pip's index URLs (env, then
 * its config files; pip's own built-in default when none is set) and apt's sources. A tool that is
 * missing or slow contributes nothing: the operator can always name hosts in SANDBOX_EGRESS_ALLOW.
 */
export async function discoverRegistries(env: Record<string, string>, aptDir = '/etc/apt'): Promise<RegistryDiscovery> {
  const [npm, pip, apt] = await Promise.all([npmRegistry(env), pipIndexes(env), aptSources(aptDir)]);
  const sources = [
    ...(npm ? [{ tool: 'npm' as const, url: npm }] : []),
    ...pip.map((url) => ({ tool: 'pip' as const, url })),
    ...apt.map((url) => ({ tool: 'apt' as const, url })),
  ];
  const hosts = [
    ...new Set(
      sources.flatMap((source) => {
        const h = hostOf(source.url);
        return h ? [h] : [];
      }),
    ),
  ];
  return { hosts, npmRegistry: npm, sources };
}

function hostOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) ? normaliseHost(u.hostname) : undefined;
  } catch {
    return undefined;
  }
}

async function npmRegistry(env: Record<string, string>): Promise<string | undefined> {
  const out = await run('npm', ['config', 'get', 'registry'], env);
  return out && hostOf(out) ? out : undefined;
}

async function pipIndexes(env: Record<string, string>): Promise<string[]> {
  const fromEnv = [env.PIP_INDEX_URL, env.PIP_EXTRA_INDEX_URL].flatMap((v) => (v ? v.split(/\s+/) : []));
  const home = env.HOME ?? '';
  const files = [
    env.PIP_CONFIG_FILE,
    '/etc/pip.conf',
    '/etc/xdg/pip/pip.conf',
    path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'pip', 'pip.conf'),
    path.join(home, '.pip', 'pip.conf'),
  ];
  const fromFiles: string[] = [];
  let indexSet = !!env.PIP_INDEX_URL;
  for (const file of files) {
    if (!file || !existsSync(file)) continue;
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    // index-url = URL, extra-index-url = URL URL (continuation lines indented).
    for (const m of text.matchAll(/^\s*(extra-index-url|index-url)\s*[=:]\s*((?:.*)(?:\n[ \t]+.*)*)/gim)) {
      if (m[1]!.toLowerCase() === 'index-url') indexSet = true;
      fromFiles.push(...m[2]!.split(/\s+/).filter(Boolean));
    }
  }
  const found = [...fromEnv, ...fromFiles].filter((u) => hostOf(u));
  // No index-url anywhere: pip uses its built-in default, which pip itself knows.
  if (!indexSet) {
    const python = [
      'python3',
      '-c',
      'from pip._internal.models.index import PyPI; print(PyPI.simple_url); print(PyPI.file_storage_domain)',
    ];
    const out = await run(python[0]!, python.slice(1), env);
    for (const line of out?.split('\n') ?? []) found.push(/^https?:/.test(line) ? line : `https://${line}/`);
  }
  return found.filter((u) => hostOf(u));
}

async function aptSources(dir: string): Promise<string[]> {
  const files = [path.join(dir, 'sources.list')];
  const listDir = path.join(dir, 'sources.list.d');
  for (const name of await fs.readdir(listDir).catch(() => [] as string[])) {
    // apt reads only these two suffixes; anything else (.disabled, .save) is off.
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(path.join(listDir, name));
  }
  const urls: string[] = [];
  for (const file of files) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (t.startsWith('#')) continue;
      const oneLine = t.match(/^deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)/);
      const deb822 = t.match(/^URIs:\s*(.+)$/i);
      if (oneLine) urls.push(oneLine[1]!);
      if (deb822) urls.push(...deb822[1]!.split(/\s+/));
    }
  }
  return urls.filter((u) => hostOf(u));
}
