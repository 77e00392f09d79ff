import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import readline from 'node:readline';
import { OPTIONS, type Config } from '../config.js';

/** A server's memory and descriptors at one moment; null where the source cannot tell. */
export interface ServerSample {
  rssBytes: number | null;
  openFds: number | null;
}

/** The server under load: where to reach it, how to sample it, and how to let it go. */
export interface StressTarget {
  url: string;
  headers: Record<string, string>;
  startedHere: boolean;
  /** Where the samples come from: the server process's /proc entry, its /metrics, or nowhere. */
  sampleSource: 'proc' | 'metrics' | 'unknown';
  sample(): Promise<ServerSample>;
  /** The provider /healthz names, or undefined when it does not answer. */
  provider(): Promise<string | undefined>;
  /** SIGTERM to a server started here (its exit code, or null after a SIGKILL); nothing for --url. */
  stop(): Promise<number | null | undefined>;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const UNKNOWN: ServerSample = { rssBytes: null, openFds: null };

/** Reads VmRSS and the fd count of a process of ours (same user, or root). */
export function procSample(pid: number): ServerSample {
  try {
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { rssBytes: rss ? Number(rss[1]) * 1024 : null, openFds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return UNKNOWN;
  }
}

/** process_resident_memory_bytes and process_open_fds from Prometheus text (prom-client's default metrics). */
export function metricsSample(body: string): ServerSample {
  const value = (name: string) => {
    const m = new RegExp(`^\\w*${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(body);
    return m ? Number(m[1]) : null;
  };
  return { rssBytes: value('process_resident_memory_bytes'), openFds: value('process_open_fds') };
}

async function fetchText(url: URL, headers: Record<string, string>): Promise<string | undefined> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

async function healthProvider(url: string): Promise<string | undefined> {
  const body = await fetchText(new URL('/healthz', url), {});
  try {
    return body ? (JSON.parse(body) as { provider?: string }).provider : undefined;
  } catch {
    return undefined;
  }
}

/** The server some --url names: samples from its /metrics (behind the same token) when it serves one. */
export async function remoteTarget(url: string, token: string | undefined): Promise<StressTarget> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const metricsUrl = new URL('/metrics', url);
  const probe = await fetchText(metricsUrl, headers);
  const source = probe && metricsSample(probe).rssBytes !== null ? 'metrics' : 'unknown';
  return {
    url,
    headers,
    startedHere: false,
    sampleSource: source,
    sample: async () => {
      if (source === 'unknown') return UNKNOWN;
      const body = await fetchText(metricsUrl, headers);
      return body ? metricsSample(body) : UNKNOWN;
    },
    provider: () => healthProvider(url),
    stop: async () => undefined,
  };
}

/** The server's own options from the command line, given back to the server we start (flags win over env). */
function passThrough(flags: Record<string, string>): string[] {
  const specs = OPTIONS as Record<string, { flag?: string }>;
  const skip = new Set(['port', 'host', 'logLevel']);
  return Object.entries(flags).flatMap(([key, value]) => {
    const flag = specs[key]?.flag;
    return flag && !skip.has(key) ? [`${flag}=${value}`] : [];
  });
}

function waitForListening(child: ChildProcess, lastLines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not listen within ${START_TIMEOUT_MS / 1000} s:\n${lastLines.join('\n')}`));
    }, START_TIMEOUT_MS);
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      lastLines.push(line);
      if (lastLines.length > 20) lastLines.shift();
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && rec.url) {
          clearTimeout(timer);
          resolve(rec.url);
        }
      } catch {
        /* a plain-text line */
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with code ${code} before listening:\n${lastLines.join('\n')}`));
    });
  });
}

/**
 * A server of our own on 127.0.0.1 (any free port), with the configuration this command was given: the
 * same environment and the same server flags. Its RSS and fds are read from /proc/<pid>.
 */
export async function ownServer(
  cliPath: string,
  config: Config,
  flags: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<StressTarget> {
  const args = [cliPath, 'serve', ...passThrough(flags), '--port=0', '--host=127.0.0.1', '--log-level=info'];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lastLines: string[] = [];
  const url = await waitForListening(child, lastLines);
  const headers: Record<string, string> = config.authToken ? { authorization: `Bearer ${config.authToken}` } : {};
  return {
    url,
    headers,
    startedHere: true,
    sampleSource: 'proc',
    sample: async () => procSample(child.pid!),
    provider: async () => config.provider,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
