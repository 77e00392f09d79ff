import type { Sandbox } from '../providers/types.js';

/** Whether something inside the sandbox accepts connections on this port right now. */
export async function portAnswers(sb: Sandbox, port: number): Promise<boolean> {
  if (sb.connectPort) {
    try {
      (await sb.connectPort(port)).destroy();
      return true;
    } catch {
      return false;
    }
  }
  const r = await sb.exec(`exec 3<>/dev/tcp/127.0.0.1/${port}`, { timeoutMs: 5000 }).catch(() => undefined);
  return r?.exitCode === 0;
}

/** Polls until the port answers, `stop()` says to give up, or the deadline passes. */
export async function waitForPort(sb: Sandbox, port: number, timeoutMs: number, stop?: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portAnswers(sb, port)) return true;
    if (Date.now() >= deadline || (stop && (await stop()))) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether the sandbox reaches the npm registry (for templates that need npm install). */
export async function registryReachable(sb: Sandbox): Promise<{ ok: boolean; detail: string }> {
  const script = "const s=require('net').connect(443,'registry.npmjs.org');s.setTimeout(5000,()=>{console.error('timed out');process.exit(2)});s.on('connect',()=>process.exit(0));s.on('error',e=>{console.error(e.code||e.message);process.exit(1)})";
  const r = await sb.exec(`node -e "${script}"`, { timeoutMs: 10_000 });
  return { ok: r.exitCode === 0, detail: (r.stderr || r.stdout).trim().split('\n').pop() ?? '' };
}
