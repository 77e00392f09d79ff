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

/**
 * The seed's deployment validation: shows the configuration in force, then creates a sandbox, runs
 * commands, round-trips a file and destroys it, timing each step. Exit code 1 if any step failed.
 */
export async function doctor(
  config: Config,
  log: Logger,
  opts: { json: boolean },
): Promise<{ exitCode: number; report: string }> {
  const steps: Step[] = [];
  let provider: SandboxProvider | undefined;
  let sandbox: Sandbox | undefined;
  const step = async (name: string, callback: () => Promise<string | void>): Promise<boolean> => {
    const t0 = performance.now();
    try {
      const detail = await callback();
      steps.push({ name, ok: true, ms: Math.round(performance.now() - t0), detail: detail || undefined });
      return true;
    } catch (e) {
      steps.push({
        name,
        ok: false,
        ms: Math.round(performance.now() - t0),
        detail: isSandboxError(e) ? e.describe() : (e as Error).message,
      });
      return false;
    }
  };
  const expectOutput = async (cmd: string, want: string) => {
    const r = await sandbox!.exec(cmd, { timeoutMs: 30_000 });
    if (r.exitCode !== 0 || r.stdout.trim() !== want)
      throw new Error(`expected "${want}", got exit ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 300)}`);
  };

  const chromium = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  const served = servedTools(config);
  const summary = {
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
    chromium: chromium ?? null,
    // What every model turn pays for the tool list (SANDBOX_TOOLS and SANDBOX_TOOL_PREFIX change it).
    toolList: { tools: served.tools.length, chars: surfaceChars(served.tools, served.names) },
    isolation: undefined as string | undefined,
    network: undefined as string | undefined,
    warnings: [] as string[],
  };

  const started = await step(`start the ${config.provider} provider`, async () => {
    provider = await createProvider({ ...config, warmPool: 0 }, log);
    const d = provider.describe();
    summary.isolation = d.isolation;
    summary.network = d.network;
    summary.warnings = d.warnings;
    return d.isolation;
  });
  if (
    started &&
    (await step('create a sandbox', async () => {
      sandbox = await provider!.create({ labels: { purpose: 'doctor' }, timeoutMs: 120_000 });
      return sandbox.id;
    }))
  ) {
    await step('run echo', () => expectOutput('echo hello', 'hello'));
    await step('mkdir -p, touch and ls', () =>
      expectOutput('mkdir -p doctor/a/b && touch doctor/a/b/file && ls doctor/a/b', 'file'),
    );
    await step('write and read back a file', async () => {
      const content = randomBytes(64 * 1024);
      await sandbox!.files.write('doctor/roundtrip.bin', content);
      const back = await sandbox!.files.read('doctor/roundtrip.bin');
      if (!back.data.equals(content)) throw new Error('the file read back differs from what was written');
      return `${content.length} bytes`;
    });
    await step('destroy the sandbox', async () => {
      await sandbox!.kill();
      if (sandbox!.isAlive()) throw new Error('the sandbox still reports alive after kill');
    });
  }
  await provider?.shutdown().catch(() => undefined);
  const ok = steps.every((s) => s.ok);

  if (opts.json) return { exitCode: ok ? 0 : 1, report: JSON.stringify({ ok, config: summary, steps }, null, 2) };
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
  return { exitCode: ok ? 0 : 1, report: lines.join('\n') };
}
