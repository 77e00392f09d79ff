import type { Sandbox } from '../providers/types.js';

/** Whether something inside the sandbox accepts connections on this port right now. */
export async function portAnswers(sandbox: Sandbox, port: number): Promise<boolean> {
  if (sandbox.connectPort) {
    try {
      (await sandbox.connectPort(port)).destroy();
      return true;
    } catch {
      return false;
    }
  }
  const r = await sandbox.exec(`exec 3<>/dev/tcp/127.0.0.1/${port}`, { timeoutMs: 5000 }).catch(() => undefined);
  return r?.exitCode === 0;
}

/** Polls until the port answers, `stop()` says to give up, or the deadline passes. */
export async function waitForPort(
  sandbox: Sandbox,
  port: number,
  timeoutMs: number,
  stop?: () => Promise<boolean>,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portAnswers(sandbox, port)) return true;
    if (Date.now() >= deadline || (stop && (await stop()))) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Whether the sandbox reaches its npm registry (for templates that need npm install): npm's own ping,
 * so the registry is whatever npm is configured with in there (in egress mode, the host's, through the
 * proxy), never a host name of ours.
 */
export async function registryReachable(sandbox: Sandbox): Promise<{ ok: boolean; detail: string }> {
  const r = await sandbox.exec('npm ping --fetch-timeout=5000 --fetch-retries=0 --loglevel=error', {
    timeoutMs: 15_000,
  });
  const lines = `${r.stderr}\n${r.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return { ok: r.exitCode === 0, detail: lines.find((l) => /ERR|error|code/i.test(l)) ?? lines.pop() ?? '' };
}
