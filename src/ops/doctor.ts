import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { isSandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import { surfaceChars } from '../mcp/tool-schema.js';
import { createProvider } from '../providers/index.js';
import { servedTools } from '../tools/index.js';
import type { Sandbox, SandboxProvider } from '../providers/types.js';

interface Step {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Runs each step, timing it; a failed step is recorded with its error and the run goes on. */
class Steps {
  readonly list: Step[] = [];

  async run(name: string, callback: () => Promise<string | void>): Promise<boolean> {
    const t0 = performance.now();
    try {
      const detail = await callback();
      this.list.push({ name, ok: true, ms: Math.round(performance.now() - t0), detail: detail || undefined });
      return true;
    } catch (e) {
      this.list.push({
        name,
        ok: false,
        ms: Math.round(performance.now() - t0),
        detail: isSandboxError(e) ? e.describe() : (e as Error).message,
      });
      return false;
    }
  }
}

type Summary = ReturnType<typeof configSummary>;

function configSummary(config: Config) {
  const served = servedTools(config);
  return {
    provider: config.provider,
    reason: config.providerReason,
    transport: config.transport,
    stateDir: config.stateDir,
    // Presence only: secrets are never printed.
    keys: {
      E2B_API_KEY: !!config.e2bApiKey,
      DAYTONA_API_KEY: !!config.daytonaApiKey,
      SANDBOX_MCP_AUTH_TOKEN: !!config.authToken,
      SANDBOX_HANDLE_KEY: !!config.handleKey,
    },
    chromium: CHROMIUM_CANDIDATES.find((p) => existsSync(p)) ?? null,
    // What every model turn pays for the tool list (SANDBOX_TOOLS and SANDBOX_TOOL_PREFIX change it).
    toolList: { tools: served.tools.length, chars: surfaceChars(served.tools, served.names) },
    isolation: undefined as string | undefined,
    network: undefined as string | undefined,
    warnings: [] as string[],
  };
}

/** Commands, a file round trip and the kill, in a sandbox the provider just created. */
async function checkSandbox(sandbox: Sandbox, steps: Steps): Promise<void> {
  const expectOutput = async (cmd: string, want: string) => {
    const r = await sandbox.exec(cmd, { timeoutMs: 30_000 });
    if (r.exitCode !== 0 || r.stdout.trim() !== want)
      throw new Error(`expected "${want}", got exit ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 300)}`);
  };
  await steps.run('run echo', () => expectOutput('echo hello', 'hello'));
  await steps.run('mkdir -p, touch and ls', () =>
    expectOutput('mkdir -p doctor/a/b && touch doctor/a/b/file && ls doctor/a/b', 'file'),
  );
  await steps.run('write and read back a file', async () => {
    const content = randomBytes(64 * 1024);
    await sandbox.files.write('doctor/roundtrip.bin', content);
    const back = await sandbox.files.read('doctor/roundtrip.bin');
    if (!back.data.equals(content)) throw new Error('the file read back differs from what was written');
    return `${content.length} bytes`;
  });
  await steps.run('destroy the sandbox', async () => {
    await sandbox.kill();
    if (sandbox.isAlive()) throw new Error('the sandbox still reports alive after kill');
  });
}

/** Starts the provider (filling in what it says of its isolation), then checks a sandbox of its own. */
async function checkProvider(config: Config, log: Logger, summary: Summary, steps: Steps): Promise<void> {
  let provider: SandboxProvider | undefined;
  let sandbox: Sandbox | undefined;
  const started = await steps.run(`start the ${config.provider} provider`, async () => {
    provider = await createProvider({ ...config, warmPool: 0 }, log);
    const d = provider.describe();
    summary.isolation = d.isolation;
    summary.network = d.network;
    summary.warnings = d.warnings;
    return d.isolation;
  });
  if (
    started &&
    (await steps.run('create a sandbox', async () => {
      sandbox = await provider!.create({ labels: { purpose: 'doctor' }, timeoutMs: 120_000 });
      return sandbox.id;
    }))
  )
    await checkSandbox(sandbox!, steps);
  await provider?.shutdown().catch(() => undefined);
}

function textReport(summary: Summary, steps: Step[], ok: boolean): string {
  const lines = [
    `provider   ${summary.provider} (${summary.reason})`,
    `isolation  ${summary.isolation ?? 'unknown'}`,
    `network    ${summary.network ?? 'unknown'}`,
    `state dir  ${summary.stateDir}`,
    `keys       ${Object.entries(summary.keys)
      .map(([k, v]) => `${k} ${v ? 'set' : 'not set'}`)
      .join(', ')}`,
    `chromium   ${summary.chromium ?? 'not found (browser tools unavailable: apt-get install chromium)'}`,
    `tool list  ${summary.toolList.tools} tools, ${summary.toolList.chars} characters of names, descriptions and input schemas per turn`,
    ...summary.warnings.map((w) => `warning    ${w}`),
    '',
    ...steps.map(
      (step) =>
        `${step.ok ? '✔' : '✘'} ${step.name.padEnd(32)} ${String(step.ms).padStart(6)} ms${step.detail ? `  ${step.detail}` : ''}`,
    ),
    '',
    ok ? 'All checks passed.' : 'Some checks failed: see the ✘ lines above.',
  ];
  return lines.join('\n');
}

/**
 * The seed's deployment validation: shows the configuration in force, then creates a sandbox, runs
 * commands, round-trips a file and destroys it, timing each step. Exit code 1 if any step failed.
 */
export async function doctor(
  config: Config,
  log: Logger,
  opts: { json: boolean },
): Promise<{ exitCode: number; report: string }> {
  const steps = new Steps();
  const summary = configSummary(config);
  await checkProvider(config, log, summary, steps);
  const ok = steps.list.every((s) => s.ok);
  if (opts.json)
    return { exitCode: ok ? 0 : 1, report: JSON.stringify({ ok, config: summary, steps: steps.list }, null, 2) };
  return { exitCode: ok ? 0 : 1, report: textReport(summary, steps.list, ok) };
}
