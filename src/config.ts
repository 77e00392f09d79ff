import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { PACKAGE_ENV_VARS } from './egress/registries.js';

/**
 * Every option lives in this one table: its flag, env var, unit, default and schema. The CLI's --help
 * and the README's option list are read off it, and nothing after start-up reads process.env.
 */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : value,
  z.array(z.string()),
);

/** A public base URL: scheme and a DNS name (subdomains hang off it), an optional port, nothing else. */
const publicUrlSchema = z.string().transform((value, ctx) => {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a URL; give one like https://sbx.example.com' });
    return z.NEVER;
  }
  const name = u.hostname.toLowerCase();
  if (!/^https?:$/.test(u.protocol)) ctx.addIssue({ code: 'custom', message: 'must be http:// or https://' });
  else if (u.pathname !== '/' || u.search || u.hash || u.username || u.password)
    ctx.addIssue({
      code: 'custom',
      message: 'must be a bare origin such as https://sbx.example.com (no path, query or credentials)',
    });
  else if (
    !/^(?=.{1,200}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name) ||
    /^[\d.]+$/.test(name)
  )
    ctx.addIssue({ code: 'custom', message: 'needs a DNS name, not an IP address: previews are its subdomains' });
  else return u.origin;
  return z.NEVER;
});

/** SANDBOX_EGRESS_ALLOW: host names, `*.` patterns or `*`; never URLs or addresses with ports. */
const egressAllowSchema = list.refine(
  (names) =>
    names.every(
      (n) =>
        n === '*' ||
        /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i.test(n) ||
        /^\[?[0-9a-f:]+\]?$/i.test(n),
    ),
  {
    message:
      'each entry must be a host name (registry.example.com), a *.example.com pattern or *; no scheme, path or port',
  },
);

/** A workspace name: a DNS label (it becomes part of container, volume and folder names). */
export const WORKSPACE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const WORKSPACE_NAME_RULE = '1 to 40 lowercase letters, digits and inner hyphens, e.g. "my-project"';
const workspaceSchema = z.string().regex(WORKSPACE_NAME, `a workspace name is ${WORKSPACE_NAME_RULE}`);

export const PROVIDERS = ['local', 'docker', 'e2b', 'daytona'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** The tool groups SANDBOX_TOOLS chooses from (one file of src/tools each). */
export const TOOL_GROUPS = ['sandbox', 'shell', 'files', 'browser', 'webdev', 'deploy'] as const;
export type ToolGroup = (typeof TOOL_GROUPS)[number];

export const NETWORK_MODES = ['none', 'egress', 'host'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

interface OptionSpec {
  env?: string;
  flag?: string;
  unit?: string;
  describe: string;
  schema: z.ZodType;
  /** Shown in help when the default is computed at start-up. */
  defaultText?: string;
  /** Never echoed, not even in the error for an invalid value. */
  secret?: boolean;
}

export const OPTIONS = {
  port: {
    flag: '--port',
    env: 'SANDBOX_MCP_PORT',
    unit: 'port',
    describe: 'Serve streamable HTTP on this port (0 = any free port); without it the server speaks stdio',
    schema: int(0, 65535).optional(),
  },
  host: {
    flag: '--host',
    env: 'SANDBOX_MCP_HOST',
    describe: 'Address the HTTP server binds; anything but loopback requires an auth token',
    schema: z.string().min(1).default('127.0.0.1'),
  },
  authToken: {
    flag: '--auth-token',
    env: 'SANDBOX_MCP_AUTH_TOKEN',
    describe: 'Bearer token HTTP clients must send (Authorization: Bearer <token>)',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
    secret: true,
  },
  handleKey: {
    env: 'SANDBOX_HANDLE_KEY',
    describe:
      'Secret that signs and seals sandbox handles: give every replica behind one load balancer the same one (e.g. openssl rand -hex 32) so a handle made by one works on all; unset: a key kept in the state dir, for this server alone',
    schema: z
      .string()
      .min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32)')
      .max(512, 'must be at most 512 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
    secret: true,
  },
  allowedHosts: {
    flag: '--allowed-hosts',
    env: 'SANDBOX_ALLOWED_HOSTS',
    unit: 'comma list',
    describe: 'Extra Host header names accepted besides localhost/127.0.0.1/[::1] (DNS-rebinding guard)',
    schema: list.default([]),
  },
  allowedOrigins: {
    flag: '--allowed-origins',
    env: 'SANDBOX_ALLOWED_ORIGINS',
    unit: 'comma list',
    describe: 'Extra browser Origins accepted besides loopback ones',
    schema: list.default([]),
  },
  maxBodyBytes: {
    flag: '--max-body',
    env: 'SANDBOX_MAX_BODY',
    unit: 'bytes',
    describe: 'Largest request accepted: an HTTP body, or one stdio message (a larger stdio message ends the session)',
    schema: int(1024, 1 << 30).default(32 * 1024 * 1024),
  },
  requestTimeoutS: {
    flag: '--request-timeout',
    env: 'SANDBOX_REQUEST_TIMEOUT',
    unit: 's',
    describe:
      'How long an HTTP client may take to send one request, headers and body (408 beyond; the headers alone get at most 10 s). Responses are never cut: SSE streams and long tool calls run as long as they need',
    schema: int(1, 3600).default(60),
  },
  maxConnectionsPerClient: {
    flag: '--max-connections-per-client',
    env: 'SANDBOX_MAX_CONNECTIONS_PER_CLIENT',
    describe:
      'Open HTTP connections one client address may hold, previews and sites included; more get 429 (0 = no cap). Behind a reverse proxy all clients share its address: raise it, or cap at the proxy',
    schema: int(0, 1_000_000).default(128),
  },
  provider: {
    flag: '--provider',
    env: 'SANDBOX_PROVIDER',
    describe: `Sandbox provider: ${PROVIDERS.join(' | ')}; unset: e2b if E2B_API_KEY is set, else daytona if DAYTONA_API_KEY is set, else local`,
    schema: z.enum(PROVIDERS).optional(),
  },
  stateDir: {
    flag: '--state-dir',
    env: 'SANDBOX_STATE_DIR',
    unit: 'path',
    describe: 'Folder for workspaces and server state',
    schema: z.string().min(1).optional(),
    defaultText: '$XDG_STATE_HOME/sandbox-mcp (~/.local/state/sandbox-mcp)',
  },
  cacheDir: {
    flag: '--cache-dir',
    env: 'SANDBOX_CACHE_DIR',
    unit: 'path',
    describe:
      "Folder for files the server derives and reuses across runs (execute-only copies of Node.js and Chromium for local sandboxes, about 400 MB); only the server's user may write it",
    schema: z.string().min(1).optional(),
    defaultText: '$XDG_CACHE_HOME/sandbox-mcp (~/.cache/sandbox-mcp)',
  },
  maxSessions: {
    flag: '--max-sessions',
    env: 'SANDBOX_MAX_SESSIONS',
    describe:
      'HTTP sessions kept at once; at the limit a new client displaces the longest-idle session that holds no sandbox (it must initialize again), else gets 503',
    schema: int(1, 1_000_000).default(1000),
  },
  idleTimeoutS: {
    flag: '--idle-timeout',
    env: 'SANDBOX_IDLE_TIMEOUT',
    unit: 's',
    describe: 'A sandbox unused this long is killed; the next call gets a fresh one',
    schema: int(1, 7 * 86400).default(900),
  },
  sessionTtlS: {
    flag: '--session-ttl',
    env: 'SANDBOX_SESSION_TTL',
    unit: 's',
    describe: 'An HTTP session with no request for this long is closed (its client must initialize again)',
    schema: int(1, 30 * 86400).default(86400),
  },
  workspace: {
    flag: '--workspace',
    env: 'SANDBOX_WORKSPACE',
    describe:
      'Named workspace for sessions that name none (HTTP clients name theirs with a Sandbox-Workspace header or ?workspace= on /mcp): sessions of one workspace share its sandbox, which outlives them by SANDBOX_WORKSPACE_TTL and keeps its /workspace files across server restarts (local, docker); unset: each session has a sandbox of its own',
    schema: workspaceSchema.optional(),
  },
  workspaceTtlS: {
    flag: '--workspace-ttl',
    env: 'SANDBOX_WORKSPACE_TTL',
    unit: 's',
    describe:
      "A named workspace's sandbox with no session attached is killed after this long; its files stay (local, docker)",
    schema: int(1, 24 * 86400).default(3600),
  },
  isolation: {
    flag: '--isolation',
    env: 'SANDBOX_ISOLATION',
    describe:
      'Local isolation: auto (bwrap, else unshare) | bwrap | unshare | none (no isolation: only for trusted use)',
    schema: z.enum(['auto', 'bwrap', 'unshare', 'none']).default('auto'),
  },
  agentFront: {
    flag: '--agent-front',
    env: 'SANDBOX_AGENT_FRONT',
    describe:
      "Local sandboxes' first process: auto (the native front built with the server, which runs commands itself and starts the Node.js agent only for files, processes and ports; else Node.js from the start) | off (Node.js from the start)",
    schema: z.enum(['auto', 'off']).default('auto'),
  },
  network: {
    flag: '--network',
    env: 'SANDBOX_NETWORK',
    describe:
      "Sandbox network: none (own loopback only) | egress (no route out; HTTP(S) through the server's allowlisting proxy, see SANDBOX_EGRESS_ALLOW; E2B and Daytona map it to their own rules) | host (shares the host network, host loopback included)",
    schema: z.enum(NETWORK_MODES).default('none'),
  },
  egressAllow: {
    flag: '--egress-allow',
    env: 'SANDBOX_EGRESS_ALLOW',
    unit: 'comma list',
    describe:
      'With SANDBOX_NETWORK=egress, the host names the proxy lets sandboxes reach (*.example.com matches subdomains, * any public host); loopback, private, link-local, CGNAT, multicast and unspecified addresses are refused whatever the name',
    schema: egressAllowSchema.optional(),
    defaultText:
      'the package registries this host is configured to use (npm registry, pip index, apt sources), read at start',
  },
  egressMaxConnections: {
    flag: '--egress-max-connections',
    env: 'SANDBOX_EGRESS_MAX_CONNECTIONS',
    describe: 'Proxy connections one sandbox may hold open at once in egress mode; more are refused (503)',
    schema: int(1, 10_000).default(64),
  },
  execTimeoutS: {
    flag: '--exec-timeout',
    env: 'SANDBOX_EXEC_TIMEOUT',
    unit: 's',
    describe: 'Default shell_exec timeout (a call may ask for up to --max-exec-timeout)',
    schema: int(1, 86400).default(120),
  },
  maxExecTimeoutS: {
    flag: '--max-exec-timeout',
    env: 'SANDBOX_MAX_EXEC_TIMEOUT',
    unit: 's',
    describe: 'Largest timeout_s a shell_exec call may ask for',
    schema: int(1, 86400).default(3600),
  },
  maxOutputBytes: {
    flag: '--max-output',
    env: 'SANDBOX_MAX_OUTPUT',
    unit: 'bytes',
    describe: 'Output returned per call (head and tail kept, the middle dropped and counted)',
    schema: int(1024, 64 << 20).default(1 << 20),
  },
  maxReadBytes: {
    flag: '--max-read',
    env: 'SANDBOX_MAX_READ',
    unit: 'bytes',
    describe: 'Most file content file_read returns per call (the rest is paged with offset/limit)',
    schema: int(1024, 64 << 20).default(256 * 1024),
  },
  resultMaxKb: {
    flag: '--result-max-kb',
    env: 'SANDBOX_RESULT_MAX_KB',
    unit: 'KiB',
    describe:
      'Most a tool result may send (its text and structured content, as sent); past it a result keeps the head and tail of its output and gives the path of a file in the sandbox holding all of it',
    schema: int(4, 4096).default(32),
  },
  toolPrefix: {
    flag: '--tool-prefix',
    env: 'SANDBOX_TOOL_PREFIX',
    describe:
      'Prefix for every tool name, e.g. sandbox_ (sandbox_browser_click beside another browser server); descriptions and hints name the prefixed tools',
    schema: z
      .string()
      .regex(/^([A-Za-z][A-Za-z0-9_]{0,23})?$/, 'a letter, then up to 23 letters, digits or _ (e.g. sandbox_)')
      .default(''),
  },
  toolGroups: {
    flag: '--tools',
    env: 'SANDBOX_TOOLS',
    unit: 'comma list',
    describe: `Tool groups to serve, of ${TOOL_GROUPS.join(', ')} (sandbox is always served: handles need it)`,
    schema: list
      .default([])
      .refine((groups) => groups.every((g) => (TOOL_GROUPS as readonly string[]).includes(g)), {
        message: `each entry must be one of ${TOOL_GROUPS.join(', ')}`,
      })
      .transform((groups) => (groups.length ? [...new Set(['sandbox', ...groups])] : [...TOOL_GROUPS]) as ToolGroup[]),
    defaultText: 'all',
  },
  searchTimeoutS: {
    flag: '--search-timeout',
    env: 'SANDBOX_SEARCH_TIMEOUT',
    unit: 's',
    describe: 'file_search stops after this long and returns what it found (a runaway regex is killed)',
    schema: int(1, 3600).default(30),
  },
  memoryMb: {
    flag: '--memory',
    env: 'SANDBOX_MEMORY_MB',
    unit: 'MiB',
    describe:
      'Memory limit per sandbox (local: through cgroups where the server may create them; docker: the container limit, swap included)',
    schema: int(16, 1 << 20).default(2048),
  },
  pidsMax: {
    flag: '--pids',
    env: 'SANDBOX_PIDS_MAX',
    describe: 'Process limit per sandbox',
    schema: int(8, 1 << 22).default(512),
  },
  diskMb: {
    flag: '--disk-mb',
    env: 'SANDBOX_DISK_MB',
    unit: 'MiB',
    describe:
      'Disk cap per sandbox over everything it may write (/workspace, /tmp, home): past it writes fail with ENOSPC (local: an ext4 image per sandbox or named workspace, when the server runs as root; docker: where the storage driver supports a size; 0 disables)',
    schema: int(0, 1 << 24).default(4096),
  },
  fileSizeMb: {
    flag: '--file-size',
    env: 'SANDBOX_FILE_SIZE_MB',
    unit: 'MiB',
    describe: 'Largest file a sandbox process may write',
    schema: int(1, 1 << 20).default(1024),
  },
  maxSandboxes: {
    flag: '--max-sandboxes',
    env: 'SANDBOX_MAX_SANDBOXES',
    describe: 'Sandboxes alive at once across all sessions',
    schema: int(1, 10000).default(64),
  },
  warmPool: {
    flag: '--warm-pool',
    env: 'SANDBOX_WARM_POOL',
    describe:
      'Local sandboxes kept started ahead of demand, so a first call does not wait for one (0 disables); the pool grows under bursts up to SANDBOX_WARM_POOL_MAX',
    schema: int(0, 256).default(1),
  },
  warmPoolMax: {
    flag: '--warm-pool-max',
    env: 'SANDBOX_WARM_POOL_MAX',
    describe:
      'The most local sandboxes the warm pool grows to: the largest burst of new sessions of the last two minutes (within 2 s of each other), then it shrinks back to SANDBOX_WARM_POOL (at most SANDBOX_MAX_SANDBOXES)',
    schema: int(0, 1024).default(24),
  },
  cpus: {
    flag: '--cpus',
    env: 'SANDBOX_CPUS',
    unit: 'CPUs',
    describe:
      'CPU limit per sandbox, fractions allowed (local: through cgroups where the server may create them; docker: the container limit)',
    schema: z.coerce.number().positive().max(1024).default(2),
  },
  dockerHost: {
    flag: '--docker-host',
    env: 'DOCKER_HOST',
    describe:
      'Docker engine the docker provider uses: unix:///path/docker.sock, tcp://host:port (https with --docker-cert-path or port 2376) or ssh://user@host',
    schema: z
      .string()
      .regex(/^(unix|tcp|http|https|ssh|npipe):\/\/./, 'must look like unix:///var/run/docker.sock or tcp://host:2375')
      .default('unix:///var/run/docker.sock'),
  },
  dockerCertPath: {
    flag: '--docker-cert-path',
    env: 'DOCKER_CERT_PATH',
    unit: 'path',
    describe: 'Folder with ca.pem, cert.pem and key.pem for a TLS Docker engine (docker provider)',
    schema: z.string().min(1).optional(),
  },
  dockerImage: {
    flag: '--docker-image',
    env: 'SANDBOX_DOCKER_IMAGE',
    describe:
      'Image for docker sandboxes: needs bash, coreutils, findutils and grep, and a /workspace owned by uid 1000 (README: building a sandbox image)',
    schema: z.string().min(1).default('sandbox-mcp:latest'),
  },
  shutdownGraceS: {
    flag: '--shutdown-grace',
    env: 'SANDBOX_SHUTDOWN_GRACE',
    unit: 's',
    describe:
      'On SIGINT/SIGTERM, how long running tool calls may finish before their sandboxes are killed (the process exits within 10 s regardless)',
    schema: int(0, 8).default(5),
  },
  webPort: {
    flag: '--web-port',
    env: 'SANDBOX_WEB_PORT',
    unit: 'port',
    describe:
      'In stdio mode, the loopback port for preview URLs and deployed sites, opened at the first one handed out (0 = any free port; over HTTP they share the MCP port)',
    schema: int(0, 65535).default(0),
  },
  publicUrl: {
    flag: '--public-url',
    env: 'SANDBOX_PUBLIC_URL',
    unit: 'URL',
    describe:
      'Public base URL of this server, so preview and site URLs open from other machines; with https://sbx.example.com, previews are https://<port>-<id>.sbx.example.com/ and sites https://<name>.site.sbx.example.com/ (wildcard DNS, and a reverse proxy that keeps the Host header); unset: *.localhost URLs, this machine only',
    schema: publicUrlSchema.optional(),
  },
  webdevStartTimeoutS: {
    flag: '--webdev-start-timeout',
    env: 'SANDBOX_WEBDEV_START_TIMEOUT',
    unit: 's',
    describe:
      "How long webdev_start waits for a dev server's port to answer (below the 60 s request timeout of many MCP clients, so its log lines arrive first)",
    schema: int(1, 3600).default(45),
  },
  deployMaxMb: {
    flag: '--deploy-max-size',
    env: 'SANDBOX_DEPLOY_MAX_MB',
    unit: 'MiB',
    describe: 'Largest total size of one deployed site version',
    schema: int(1, 1 << 20).default(100),
  },
  deployMaxFiles: {
    flag: '--deploy-max-files',
    env: 'SANDBOX_DEPLOY_MAX_FILES',
    describe: 'Most files in one deployed site version',
    schema: int(1, 1_000_000).default(10_000),
  },
  chromiumPath: {
    flag: '--chromium-path',
    env: 'SANDBOX_CHROMIUM_PATH',
    unit: 'path',
    describe:
      'Chromium the browser tools start inside each sandbox (never downloaded; Debian/Ubuntu: apt-get install chromium)',
    schema: z.string().min(1).default('/usr/bin/chromium'),
  },
  browserActionTimeoutS: {
    flag: '--browser-action-timeout',
    env: 'SANDBOX_BROWSER_ACTION_TIMEOUT',
    unit: 's',
    describe: 'How long a browser click, type or select waits for its element to be ready',
    schema: z.coerce.number().positive().max(600).default(5),
  },
  browserNavTimeoutS: {
    flag: '--browser-nav-timeout',
    env: 'SANDBOX_BROWSER_NAV_TIMEOUT',
    unit: 's',
    describe:
      'How long browser_navigate and browser_back wait for the page to load, and browser_evaluate for its script',
    schema: z.coerce.number().positive().max(600).default(30),
  },
  logLevel: {
    flag: '--log-level',
    env: 'LOG_LEVEL',
    describe: 'trace | debug | info | warn | error | fatal | silent',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  },
  e2bApiKey: {
    env: 'E2B_API_KEY',
    describe: 'E2B API key (selects the e2b provider when SANDBOX_PROVIDER is unset)',
    schema: z.string().min(1).optional(),
  },
  daytonaApiKey: {
    env: 'DAYTONA_API_KEY',
    describe: 'Daytona API key (selects daytona when SANDBOX_PROVIDER and E2B_API_KEY are unset)',
    schema: z.string().min(1).optional(),
  },
  e2bTimeoutS: {
    env: 'E2B_TIMEOUT',
    unit: 's',
    describe: 'E2B sandbox lifetime, renewed on activity (E2B kills a sandbox when it runs out)',
    schema: int(10, 86400).default(300),
  },
  e2bMaxRetries: {
    env: 'E2B_MAX_RETRIES',
    describe:
      'Retries after the first attempt for transient E2B failures (429, 503, connection resets), with exponential backoff and jitter',
    schema: int(0, 10).default(3),
  },
  e2bTemplate: {
    env: 'E2B_TEMPLATE',
    describe: 'E2B template (name or id) new sandboxes start from',
    schema: z.string().min(1).default('base'),
  },
  e2bDomain: {
    env: 'E2B_DOMAIN',
    describe: 'E2B domain (self-hosted or regional deployments); unset: the SDK default, e2b.app',
    schema: z.string().min(1).optional(),
  },
  e2bApiUrl: {
    env: 'E2B_API_URL',
    unit: 'URL',
    describe: 'E2B API base URL override (self-hosting, tests); unset: https://api.<E2B_DOMAIN>',
    schema: z.url().optional(),
  },
  e2bSandboxUrl: {
    env: 'E2B_SANDBOX_URL',
    unit: 'URL',
    describe:
      'E2B in-sandbox daemon (envd) URL override for every sandbox (self-hosting, tests); unset: derived from the sandbox id and domain',
    schema: z.url().optional(),
  },
  daytonaApiUrl: {
    env: 'DAYTONA_SERVER_URL',
    unit: 'URL',
    describe:
      'Daytona API URL (DAYTONA_API_URL is accepted as an alias); unset: the SDK default, https://app.daytona.io/api',
    schema: z.url().optional(),
  },
  daytonaTarget: {
    env: 'DAYTONA_TARGET',
    describe: 'Daytona target region: us | eu | asia (or any target your organisation has)',
    schema: z.string().min(1).default('us'),
  },
  daytonaSnapshot: {
    env: 'DAYTONA_SNAPSHOT',
    describe: 'Daytona snapshot new sandboxes start from; unset: the organisation default',
    schema: z.string().min(1).optional(),
  },
  daytonaAutoStopMin: {
    env: 'DAYTONA_AUTO_STOP',
    unit: 'min',
    describe: 'Daytona stops a sandbox idle this long (0 disables; the server still kills idle sandboxes itself)',
    schema: int(0, 7 * 24 * 60).default(15),
  },
  daytonaMaxRetries: {
    env: 'DAYTONA_MAX_RETRIES',
    describe:
      'Retries after the first attempt for transient Daytona failures (429, 5xx, connection resets), with exponential backoff and jitter',
    schema: int(0, 10).default(3),
  },
  cloudRequestTimeoutS: {
    env: 'SANDBOX_CLOUD_REQUEST_TIMEOUT',
    unit: 's',
    describe:
      'Longest a single E2B/Daytona API request may take before it counts as failed (bounds how long an unreachable provider can hold a tool call)',
    schema: int(1, 600).default(15),
  },
} satisfies Record<string, OptionSpec>;

type Options = typeof OPTIONS;
type OptionValues = { [K in keyof Options]: z.output<Options[K]['schema']> };

export type Config = Omit<OptionValues, 'provider' | 'stateDir' | 'cacheDir'> & {
  provider: ProviderName;
  stateDir: string;
  cacheDir: string;
  /** Why this provider was chosen, for logs and sandbox_info. */
  providerReason: string;
  transport: 'stdio' | 'http';
  /** The server's PATH at start-up: where sandbox launchers (bwrap, unshare, nsenter) are found. */
  hostPath: string;
  /** The variables npm and pip read their registry settings from, as they were at start (egress default). */
  packageEnv: Record<string, string>;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `sandbox-mcp sites list` / `sandbox-mcp sites delete NAME`: the operator's view of deployed sites. */
export type SitesCommand = { action: 'list' } | { action: 'delete'; name: string };

export const SITES_USAGE = 'sandbox-mcp sites list [--json] [--workspace W] | sandbox-mcp sites delete NAME';

export const MIGRATE_USAGE =
  'sandbox-mcp migrate --workspace NAME --from PROVIDER --to PROVIDER [--dry-run] [--force] [options]';

/** `sandbox-mcp migrate`: copy a named workspace's files from one provider to another. */
export interface MigrateArgs {
  from: ProviderName;
  to: ProviderName;
  dryRun: boolean;
  /** Replace target files that differ from the source's (without it such a target is refused). */
  force: boolean;
}

export interface ParsedArgs {
  command: 'serve' | 'doctor' | 'bench' | 'sites' | 'migrate';
  /** sites: what to do. */
  sites?: SitesCommand;
  /** migrate: its own flags (the workspace is the --workspace option). */
  migrate?: MigrateArgs;
  flags: Record<string, string>;
  help: boolean;
  /** doctor/bench: print JSON instead of a table. */
  json: boolean;
  /** bench: samples per measurement. */
  iterations?: number;
  /** bench --stress: its own flags (--sessions 3 -> sessions: "3"), validated by src/ops/stress-options.ts. */
  stress?: Record<string, string>;
}

/** Flags as `--name value` or `--name=value`; returns the command word (serve | doctor | bench | sites) too. */
export function parseArgv(argv: string[]): ParsedArgs {
  const flags: Record<string, string> = {};
  let json = false;
  let iterations: number | undefined;
  let stress = false;
  const benchFlags: Record<string, string> = {};
  const byFlag = new Map(Object.entries(OPTIONS).flatMap(([k, o]) => ('flag' in o && o.flag ? [[o.flag, k]] : [])));
  let command: ParsedArgs['command'] = 'serve';
  let help = false;
  const words: string[] = [];
  const migrate: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (command === 'migrate' && /^--(from|to|dry-run|force)(=|$)/.test(arg)) {
      i = migrateFlag(argv, i, migrate);
      continue;
    }
    if (arg === '--json' && command !== 'serve') {
      json = true;
      continue;
    }
    if (arg.startsWith('--iterations') && command === 'bench') {
      const v = arg.includes('=') ? arg.split('=')[1] : argv[++i];
      iterations = Number(v);
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000)
        throw new ConfigError(`--iterations must be a whole number from 1 to 10000, got ${JSON.stringify(v)}`);
      continue;
    }
    if (arg === '--stress' && command === 'bench') {
      stress = true;
      continue;
    }
    if (!arg.startsWith('-')) {
      if (i === 0 && (arg === 'serve' || arg === 'doctor' || arg === 'bench' || arg === 'sites' || arg === 'migrate')) {
        command = arg;
        continue;
      }
      if (command === 'sites' && words.length < 2) {
        words.push(arg);
        continue;
      }
      throw new ConfigError(`unexpected argument "${arg}"; run sandbox-mcp --help for the options`);
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(name);
    if (!key && !(command === 'bench' && name.startsWith('--')))
      throw new ConfigError(`unknown option ${name}; run sandbox-mcp --help for the options`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`option ${name} needs a value`);
    if (key) flags[key] = value;
    else benchFlags[name.slice(2)] = value;
  }
  const strayBenchFlag = Object.keys(benchFlags)[0];
  if (strayBenchFlag !== undefined && !stress)
    throw new ConfigError(
      `unknown option --${strayBenchFlag} (stress test options need --stress); run sandbox-mcp --help`,
    );
  return {
    command,
    flags,
    help,
    json,
    iterations,
    ...(stress ? { stress: benchFlags } : {}),
    ...(command === 'sites' && !help ? { sites: sitesCommand(words) } : {}),
    ...(command === 'migrate' && !help ? { migrate: migrateArgs(migrate, flags) } : {}),
  };
}

/** Reads one of migrate's own flags at argv[i]; returns the index of the last word it used. */
function migrateFlag(argv: string[], index: number, into: Record<string, string | boolean>): number {
  const arg = argv[index]!;
  const [name, inline] = arg.includes('=')
    ? [arg.slice(2, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
    : [arg.slice(2)];
  if (name === 'dry-run' || name === 'force') {
    if (inline !== undefined) throw new ConfigError(`--${name} takes no value; usage: ${MIGRATE_USAGE}`);
    into[name] = true;
    return index;
  }
  const value = inline ?? argv[index + 1];
  if (value === undefined || value === '')
    throw new ConfigError(`--${name} needs a provider (${PROVIDERS.join(', ')})`);
  into[name] = value;
  return inline === undefined ? index + 1 : index;
}

function migrateArgs(given: Record<string, string | boolean>, flags: Record<string, string>): MigrateArgs {
  const provider = (flag: 'from' | 'to'): ProviderName => {
    const v = given[flag];
    if (typeof v !== 'string') throw new ConfigError(`migrate needs --${flag} PROVIDER; usage: ${MIGRATE_USAGE}`);
    if (!(PROVIDERS as readonly string[]).includes(v))
      throw new ConfigError(`unknown provider "${v}" for --${flag}; pick one of ${PROVIDERS.join(', ')}`);
    return v as ProviderName;
  };
  // Named on the command line on purpose: a SANDBOX_WORKSPACE left in the environment picks nothing here.
  if (!flags.workspace) throw new ConfigError(`migrate needs --workspace NAME; usage: ${MIGRATE_USAGE}`);
  const from = provider('from');
  const to = provider('to');
  if (from === to)
    throw new ConfigError(`--from and --to are both "${from}": a workspace migrates between two different providers`);
  return { from, to, dryRun: given['dry-run'] === true, force: given.force === true };
}

function sitesCommand(words: string[]): SitesCommand {
  if (words[0] === 'list' && words.length === 1) return { action: 'list' };
  if (words[0] === 'delete' && words.length === 2) return { action: 'delete', name: words[1]! };
  throw new ConfigError(
    `sites needs "list" or "delete NAME", got ${JSON.stringify(words.join(' '))}; usage: ${SITES_USAGE}`,
  );
}

/** Alternative env names accepted for an option (the seed's and the vendor SDKs' spellings). */
const ENV_ALIASES: Record<string, string[]> = { DAYTONA_SERVER_URL: ['DAYTONA_API_URL'] };

function aliasOf(name: string, env: NodeJS.ProcessEnv): string | undefined {
  return ENV_ALIASES[name]?.map((a) => env[a]).find((v) => v);
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'sandbox-mcp');
}

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'sandbox-mcp');
}

/** Defaults < env < flags, validated once. Throws ConfigError naming the option at fault. */
export function loadConfig(flags: Record<string, string>, env: NodeJS.ProcessEnv): Config {
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTIONS) as [keyof Options, OptionSpec][]) {
    const fromFlag = flags[key];
    const fromEnv = spec.env ? env[spec.env] || aliasOf(spec.env, env) : undefined;
    const raw = fromFlag ?? (fromEnv === '' ? undefined : fromEnv);
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const where = fromFlag !== undefined ? spec.flag : spec.env;
      const issue = parsed.error.issues[0]?.message ?? 'invalid value';
      const shown = spec.secret ? '(value hidden)' : JSON.stringify(raw);
      throw new ConfigError(`invalid ${where} (${spec.describe.split(';')[0]}): ${shown}: ${issue}`);
    }
    values[key] = parsed.data;
  }
  const v = values as OptionValues;
  const stateDir = path.resolve(v.stateDir ?? defaultStateDir(env));
  const cacheDir = path.resolve(v.cacheDir ?? defaultCacheDir(env));
  const { provider, providerReason } = chooseProvider(v);
  if (v.port !== undefined && !isLoopback(v.host) && !v.authToken) {
    throw new ConfigError(
      `refusing to bind ${v.host} without an auth token: set SANDBOX_MCP_AUTH_TOKEN or --auth-token, or bind 127.0.0.1`,
    );
  }
  if (v.port !== undefined && v.publicUrl && !v.authToken) {
    throw new ConfigError(
      `SANDBOX_PUBLIC_URL (${v.publicUrl}) makes /mcp reachable from other machines: set SANDBOX_MCP_AUTH_TOKEN or --auth-token too`,
    );
  }
  if (v.execTimeoutS > v.maxExecTimeoutS) {
    throw new ConfigError(
      `SANDBOX_EXEC_TIMEOUT (${v.execTimeoutS}) is larger than SANDBOX_MAX_EXEC_TIMEOUT (${v.maxExecTimeoutS})`,
    );
  }
  const packageEnv = Object.fromEntries(PACKAGE_ENV_VARS.flatMap((k) => (env[k] ? [[k, env[k]]] : [])));
  return {
    ...v,
    stateDir,
    cacheDir,
    hostPath: env.PATH || '/usr/local/bin:/usr/bin:/bin',
    packageEnv,
    provider,
    providerReason,
    transport: v.port === undefined ? 'stdio' : 'http',
  };
}

function chooseProvider(optionValues: OptionValues): { provider: ProviderName; providerReason: string } {
  if (optionValues.provider) return { provider: optionValues.provider, providerReason: 'SANDBOX_PROVIDER is set' };
  if (optionValues.e2bApiKey) return { provider: 'e2b', providerReason: 'E2B_API_KEY is set' };
  if (optionValues.daytonaApiKey) return { provider: 'daytona', providerReason: 'DAYTONA_API_KEY is set' };
  return { provider: 'local', providerReason: 'no SANDBOX_PROVIDER and no cloud API key: the local default' };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function helpText(): string {
  const rows = Object.values(OPTIONS as Record<string, OptionSpec>).map((optionSpec) => {
    const def = optionSpec.defaultText ?? defaultOf(optionSpec.schema);
    const name = [optionSpec.flag, optionSpec.env].filter(Boolean).join(', ');
    return `  ${name}\n      ${optionSpec.describe}${optionSpec.unit ? ` [${optionSpec.unit}]` : ''}${def !== undefined ? ` (default: ${def})` : ''}`;
  });
  return [
    'Usage: sandbox-mcp [serve] [options]   MCP server over stdio, or streamable HTTP with --port',
    '       sandbox-mcp doctor [--json] [options]                 validate the configuration end to end',
    '       sandbox-mcp bench [--json] [--iterations N] [options] measure the configured provider',
    '       sandbox-mcp bench --stress [--sessions N] [--concurrency M] [--duration S] [--calls N] [--url URL --token T]',
    '                 [--max-create-ms MS] [--max-exec-ms MS] [--min-success PERCENT] [options]',
    '                 N HTTP sessions x M concurrent tool calls against a server it starts (or URL): JSON on stdout',
    "       sandbox-mcp sites list [--json] [--workspace W] [options] every deployed site of the state dir (or workspace W's), with its owner",
    '       sandbox-mcp sites delete NAME [options]               delete any site (sessions may change only their own)',
    `       ${MIGRATE_USAGE}`,
    "                                                             copy a named workspace's files between providers (README: Migrating a workspace)",
    '',
    'Options (flag, env var). Precedence: defaults < env < flags.',
    ...rows,
  ].join('\n');
}

function defaultOf(schema: z.ZodType): string | undefined {
  const r = schema.safeParse(undefined);
  if (!r.success || r.data === undefined) return undefined;
  return Array.isArray(r.data) ? (r.data.length ? r.data.join(',') : 'none') : String(r.data);
}
