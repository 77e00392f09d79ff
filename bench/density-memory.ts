import { spawn, type ChildProcess } from 'node:child_process';
import { compare, summarize, type BenchOptions, type Comparison, type Stat } from '../src/ops/stats.js';
import { openSession, shellExec, startServer, stopServer, type HttpSession } from './http-sessions.js';
import { memAvailableKb, parentTable, processTree, pssKb } from './procfs.js';

const IDLE_SANDBOXES = 100;
const BATCH = 10;
/** Idle means idle: V8's memory reducer shrinks an idle agent's heap after several seconds (8.5 → 7.2 MB). */
const SETTLE_MS = 15_000;

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
const mb = (kb: number) => Math.round((kb / 1024) * 100) / 100;

/** PSS (MiB) of each process tree under `rootPid`'s direct children: one tree per sandbox launcher. */
function treesPssMb(rootPid: number): number[] {
  const parents = parentTable();
  const launchers = [...parents].filter(([, parent]) => parent === rootPid).map(([pid]) => pid);
  return launchers.map((pid) => mb(processTree(pid, parents).reduce((sum, member) => sum + pssKb(member), 0)));
}

/** Bare idle Node processes, the same count: what the runtime alone costs at this density. */
async function bareNodes(): Promise<{ pss: number[]; dropKb: number }> {
  const before = memAvailableKb();
  const children: ChildProcess[] = [];
  try {
    for (let index = 0; index < IDLE_SANDBOXES; index++) {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
      children.push(child);
      await new Promise((resolve) => child.once('spawn', resolve));
    }
    await settle();
    const pss = children.map((child) => mb(pssKb(child.pid!)));
    return { pss, dropKb: before - memAvailableKb() };
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
}

/**
 * 100 idle sandboxes made through the server (each session's first call): PSS per sandbox (every
 * process of it: launcher, namespaces' init, agent) and the host's MemAvailable drop per sandbox; then
 * again once a file call in each has started its Node.js agent.
 */
export async function densityMemory({ stateDir, log }: BenchOptions): Promise<{
  metrics: Record<string, Stat>;
  comparisons: Comparison[];
  notes: string[];
}> {
  const { proc, url } = await startServer({
    SANDBOX_STATE_DIR: stateDir,
    SANDBOX_WARM_POOL: '0',
    SANDBOX_MAX_SANDBOXES: String(IDLE_SANDBOXES + 10),
    SANDBOX_MAX_SESSIONS: String(IDLE_SANDBOXES + 10),
  });
  const sessions: HttpSession[] = [];
  let pss: number[];
  let dropKb: number;
  let withNode: number[];
  let withNodeDropKb: number;
  try {
    await settle();
    const before = memAvailableKb();
    for (let start = 0; start < IDLE_SANDBOXES; start += BATCH) {
      const batch = await Promise.all(Array.from({ length: BATCH }, () => openSession(url)));
      await Promise.all(batch.map((session) => shellExec(session.client, 'true')));
      sessions.push(...batch);
    }
    await settle();
    dropKb = before - memAvailableKb();
    pss = treesPssMb(proc.pid!);
    log(
      `${pss.length} idle sandboxes: PSS p50 ${summarize(pss).p50} MiB, MemAvailable drop ${mb(dropKb / IDLE_SANDBOXES)} MiB each`,
    );
    // Commands alone never start the Node.js agent behind the native front: a file call does.
    for (let start = 0; start < sessions.length; start += BATCH)
      await Promise.all(
        sessions
          .slice(start, start + BATCH)
          .map((session) => session.client.callTool({ name: 'file_list', arguments: { path: '.' } })),
      );
    await settle();
    withNodeDropKb = before - memAvailableKb();
    withNode = treesPssMb(proc.pid!);
    log(
      `after a file call each: PSS p50 ${summarize(withNode).p50} MiB, MemAvailable drop ${mb(withNodeDropKb / IDLE_SANDBOXES)} MiB each`,
    );
    await Promise.all(sessions.map((session) => session.end()));
  } finally {
    await stopServer(proc);
  }
  const bare = await bareNodes();
  const ours = summarize(pss);
  const base = summarize(bare.pss);
  const dropEach = mb(dropKb / IDLE_SANDBOXES);
  const bareDropEach = mb(bare.dropKb / IDLE_SANDBOXES);
  const drop = (value: number): Stat => ({ ...summarize([value]) });
  return {
    metrics: {
      [`PSS per idle sandbox, ${IDLE_SANDBOXES} at once (MiB)`]: ours,
      [`PSS per idle bare node process, ${IDLE_SANDBOXES} at once (MiB)`]: base,
      [`MemAvailable drop per idle sandbox (MiB)`]: drop(dropEach),
      [`PSS per idle sandbox after a file call (Node.js agent started), ${IDLE_SANDBOXES} at once (MiB)`]:
        summarize(withNode),
      [`MemAvailable drop per idle sandbox after a file call (MiB)`]: drop(mb(withNodeDropKb / IDLE_SANDBOXES)),
      [`MemAvailable drop per idle bare node process (MiB)`]: drop(bareDropEach),
    },
    comparisons: [
      compare(
        'PSS per idle sandbox p50 (MiB)',
        ours.p50,
        'bare node process p50',
        base.p50,
        'ours <= 8 MiB',
        ours.p50 <= 8,
      ),
      compare(
        'PSS per idle sandbox after a file call p50 (MiB)',
        summarize(withNode).p50,
        'bare node process p50',
        base.p50,
        'ours <= 8 MiB',
        summarize(withNode).p50 <= 8,
      ),
      compare(
        'MemAvailable drop per sandbox (MiB)',
        dropEach,
        'per bare node process',
        bareDropEach,
        'ours <= 8 MiB',
        dropEach <= 8,
      ),
    ],
    notes: [`${pss.length} sandbox process trees measured (expected ${IDLE_SANDBOXES})`],
  };
}
