import { z } from 'zod';
import { ConfigError } from '../config.js';

/**
 * `sandbox-mcp bench --stress` flags. The defaults fit a 2-core machine (4 sessions × 3 calls at once for
 * at most 20 s); the thresholds default to the seed's (creation < 30 s, execution < 5 s, success > 95 %).
 */
const count = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const schema = z
  .object({
    url: z
      .url({
        protocol: /^https?$/,
        error: 'must be an http:// or https:// URL of an MCP endpoint, e.g. http://127.0.0.1:3939/mcp',
      })
      .optional(),
    token: z.string().min(1).optional(),
    sessions: count(1, 200, 4),
    concurrency: count(1, 64, 3),
    duration: count(1, 3600, 20),
    calls: count(1, 1_000_000, 5000),
    'max-create-ms': count(1, 3_600_000, 30_000),
    'max-exec-ms': count(1, 3_600_000, 5000),
    'min-success': z.coerce.number().min(0).max(100).default(95),
  })
  .strict();

export interface StressOptions {
  /** An MCP endpoint to load instead of a server of our own. */
  url?: string;
  /** Bearer token for `url` (default: the auth token of the configuration). */
  token?: string;
  sessions: number;
  /** Calls in flight at once per session. */
  concurrency: number;
  /** The load stops after this many seconds... */
  durationS: number;
  /** ...or this many calls, whichever comes first. */
  calls: number;
  maxCreateMs: number;
  maxExecMs: number;
  /** Percent: the run passes when more calls than this succeed. */
  minSuccessPercent: number;
}

/** Validates the raw `--name value` pairs; a bad value is a ConfigError naming the flag and the range. */
export function parseStressOptions(raw: Record<string, string>): StressOptions {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys')
      throw new ConfigError(`unknown option --${issue.keys[0]}; run sandbox-mcp --help for the options`);
    throw new ConfigError(
      `invalid --${String(issue.path[0])} for bench --stress: ${JSON.stringify(raw[String(issue.path[0])])}: ${issue.message}`,
    );
  }
  const o = parsed.data;
  return {
    url: o.url,
    token: o.token,
    sessions: o.sessions,
    concurrency: o.concurrency,
    durationS: o.duration,
    calls: o.calls,
    maxCreateMs: o['max-create-ms'],
    maxExecMs: o['max-exec-ms'],
    minSuccessPercent: o['min-success'],
  };
}
