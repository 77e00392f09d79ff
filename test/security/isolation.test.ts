import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, hostProcessesWith, isolationSkipReason, sh, stdioClient, tempDir, waitFor } from '../helpers.js';

/**
 * What hostile code in a local sandbox tried in the review that found a way to host root: each case
 * runs with the server as whoever runs the tests (CI: root, then an unprivileged user).
 */
const asRoot = process.getuid?.() === 0;
const serverUid = process.getuid?.() ?? -1;

/** A launcher started ahead of its sandbox (spare-launcher.ts): no sandbox yet, the server's own user. */
function isSpareLauncher(pid: number): boolean {
  return cmdline(pid).split('\0').includes('--params-on-stdin');
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The server's descendants but spare launchers and what they run (a disk copy), and the server's own
 * forks caught before they exec a program (the same command line, or none): all sandbox processes.
 */
function descendants(pid: number): number[] {
  const server = cmdline(pid);
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const next = queue.shift()!;
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${next}/task/${next}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      /* exited */
    }
    // An empty command line: a zombie, or a process between fork and exec (the server's own code).
    kids = kids.filter((kid) => !isSpareLauncher(kid) && cmdline(kid) !== server && cmdline(kid) !== '');
    out.push(...kids);
    queue.push(...kids);
  }
  return out;
}

function allDescendants(pid: number): number[] {
  const kids = (() => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  })();
  return kids.flatMap((kid) => [kid, ...allDescendants(kid)]);
}

/** Host uids (real, effective, saved, fs) of the given processes. */
function hostUids(pids: number[]): number[] {
  return pids.flatMap((pid) => {
    try {
      return readFileSync(`/proc/${pid}/status`, 'utf8')
        .match(/^Uid:\s+(.*)$/m)![1]!
        .trim()
        .split(/\s+/)
        .map(Number);
    } catch {
      return [];
    }
  });
}

/** Python that attacks the agent's channel: its descriptors, its memory, ptrace. */
const ATTACK_AGENT = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
def report(name, ok): print(f"{name}={'REACHED' if ok else 'denied'}")
try: open(f"/proc/{pid}/fd/1", "wb").write(b'{"id":1,"ok":true,"result":{}}\n'); report("fd-write", True)
except OSError: report("fd-write", False)
pidfd = libc.syscall(434, pid, 0)
report("pidfd_getfd", pidfd >= 0 and libc.syscall(438, pidfd, 1, 0) >= 0)
report("ptrace", libc.ptrace(16, pid, 0, 0) == 0)
try: open(f"/proc/{pid}/mem", "rb").read(1); report("mem", True)
except OSError: report("mem", False)
try: open(f"/proc/{pid}/environ", "rb").read(1); report("environ", True)
except OSError: report("environ", False)
`;

for (const isolation of ['bwrap', 'unshare'] as const) {
  describe.skipIf(!!isolationSkipReason(isolation))(`a hostile sandbox (${isolation}, server uid ${serverUid})`, () => {
    let client: Client;
    let serverPid: number;
    let state: ReturnType<typeof tempDir>;

    beforeAll(async () => {
      state = tempDir('sbx-sec-');
      ({ client, pid: serverPid } = await stdioClient({
        SANDBOX_STATE_DIR: state.dir,
        SANDBOX_ISOLATION: isolation,
        SANDBOX_DISK_MB: '64',
      }));
    });
    afterAll(async () => {
      await client?.close();
      state?.cleanup();
    });

    it('never runs as host root: every sandbox process has an unprivileged host uid', async () => {
      const marker = `uid-probe-${Date.now()}`;
      const started = await call(client, 'shell_start', { command: `exec -a ${marker} sleep 60` });
      expect(started.isError).toBeFalsy();
      const sleeper = await waitFor(async () => (await hostProcessesWith(marker)).length > 0);
      expect(sleeper).toBe(true);
      const inSandboxes = descendants(serverPid);
      // The launcher, the agent and the sleeper at least.
      expect(inSandboxes.length).toBeGreaterThanOrEqual(3);
      const uids = hostUids(inSandboxes);
      expect(uids.length).toBeGreaterThanOrEqual(12);
      for (const uid of uids) {
        expect(uid).not.toBe(0);
        // A root server hands each sandbox a uid of its own, never its own.
        if (asRoot) expect(uid).toBeGreaterThanOrEqual(2_000_000_000);
      }
      await call(client, 'shell_kill', { processId: started.structuredContent!.processId, signal: 'SIGKILL' });
    });

    it('starts nothing of a sandbox ahead: a spare launcher shares every namespace of the server but its mount one', async () => {
      await sh(client, 'true');
      const spares = () => allDescendants(serverPid).filter(isSpareLauncher);
      expect(await waitFor(async () => spares().length > 0)).toBe(true);
      for (const spare of spares()) {
        for (const ns of ['pid', 'user', 'net', 'ipc', 'uts', 'cgroup'])
          expect(readlinkSync(`/proc/${spare}/ns/${ns}`), ns).toBe(readlinkSync(`/proc/${serverPid}/ns/${ns}`));
        expect(readFileSync(`/proc/${spare}/cgroup`, 'utf8')).toBe(readFileSync(`/proc/${serverPid}/cgroup`, 'utf8'));
      }
    });

    it.skipIf(!asRoot)("runs as a host uid no other session's sandbox has", async () => {
      const other = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: isolation });
      try {
        await sh(other.client, 'true');
        await sh(client, 'true');
        const mine = new Set(hostUids(descendants(serverPid)));
        const theirs = new Set(hostUids(descendants(other.pid)));
        const show = (pid: number) =>
          descendants(pid).map(
            (p) => `${p} ${hostUids([p]).join(',')} ${cmdline(p).replaceAll('\0', ' ').slice(0, 120)}`,
          );
        expect(mine.size, show(serverPid).join('\n')).toBe(1);
        expect(theirs.size, show(other.pid).join('\n')).toBe(1);
        expect([...mine][0]).not.toBe([...theirs][0]);
      } finally {
        await other.client.close();
      }
    });

    it('cannot write /proc/sys, /proc/sysrq-trigger or /sys, not even the value already there', async () => {
      const r = await sh(
        client,
        [
          'find /proc/sys /sys -writable 2>/dev/null | head -5',
          '[ -w /proc/sysrq-trigger ] && echo sysrq-writable',
          // The review's way to host root: a pipe in core_pattern. Write back what is there.
          'cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern 2>/dev/null && echo core_pattern-writable',
          'cat /proc/sys/kernel/modprobe > /proc/sys/kernel/modprobe 2>/dev/null && echo modprobe-writable',
          'cat /proc/sys/vm/overcommit_memory > /proc/sys/vm/overcommit_memory 2>/dev/null && echo overcommit-writable',
          'echo end',
        ].join('; '),
      );
      expect(r.stdout).toBe('end\n');
    });

    it('can make no user namespace, so mounts no proc or cgroup file system and lifts no limit', async () => {
      const r = await sh(
        client,
        [
          'unshare -U true 2>/dev/null && echo userns-made',
          'unshare -Ur true 2>/dev/null && echo userns-root-made',
          'unshare -m true 2>/dev/null && echo mountns-made',
          'python3 -c "import os; os.unshare(os.CLONE_NEWUSER|os.CLONE_NEWNS|os.CLONE_NEWCGROUP)" 2>/dev/null && echo py-unshare',
          'mkdir -p /tmp/m && (mount -t proc proc /tmp/m || mount -t cgroup -o memory cg /tmp/m || mount -t tmpfs t /tmp/m) 2>/dev/null && echo mounted',
          'cat /proc/sys/user/max_user_namespaces > /proc/sys/user/max_user_namespaces 2>/dev/null && echo userns-limit-writable',
          'echo end',
        ].join('; '),
      );
      expect(r.stdout).toBe('end\n');
    });

    it('makes no setuid file that means anything on the host', async () => {
      const r = await sh(
        client,
        'cp /bin/true ./suid-probe && chmod 4755 ./suid-probe && stat -c %A ./suid-probe; grep " /workspace " /proc/self/mountinfo',
      );
      expect(r.exitCode).toBe(0);
      // On the host: no setuid file owned by root anywhere in the state dir.
      const found: string[] = [];
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const p = path.join(dir, name);
          let st;
          try {
            st = lstatSync(p);
          } catch {
            continue;
          }
          if (st.isDirectory()) walk(p);
          else if (st.mode & 0o4000 && st.uid === 0) found.push(p);
        }
      };
      walk(state.dir);
      expect(found).toEqual([]);
      // A root server's sandboxes keep their files on a nosuid image, owned by their own uid.
      if (asRoot) expect(r.stdout).toMatch(/nosuid/);
    });

    it("cannot reach the agent's channel: no fd, pidfd_getfd, ptrace, memory or environment", async () => {
      // The agent is two processes when its native front is built: the front (every command's parent,
      // which holds the channel) and the Node.js agent it starts for files; a file call starts the latter.
      await call(client, 'file_write', { path: 'agent-probe.txt', content: 'x' });
      const agents = await sh(
        client,
        "{ ps -o ppid= -p $$; pgrep -f -x '/.sandbox-mcp/node( -[^ ]+)* /.sandbox-mcp/agent/main.cjs'; } | sort -u | tr -s ' \\n' ' '",
      );
      const pids = agents.stdout.trim().split(/\s+/).filter(Boolean);
      expect(pids.length).toBeGreaterThanOrEqual(1);
      for (const pid of pids) {
        const r = await call(client, 'shell_exec', { command: `python3 - ${pid}`, stdin: ATTACK_AGENT });
        const out = (r.structuredContent as { stdout: string }).stdout;
        expect(out, `agent process ${pid}`).toContain('fd-write=denied');
        expect(out, `agent process ${pid}`).not.toContain('REACHED');
      }
      // The agent still answers: nothing was forged into its channel.
      expect((await sh(client, 'echo alive')).stdout).toBe('alive\n');
      expect((await call(client, 'file_read', { path: 'agent-probe.txt' })).isError).toBeFalsy();
    });

    it.skipIf(!asRoot)(
      'the next disk image, copied ahead, sits in a root-only folder no sandbox can see or replace',
      async () => {
        await sh(client, 'true'); // a sandbox has started: the next image is copied after it
        const spareDir = path.join(state.dir, 'disk-spare');
        const info = lstatSync(spareDir);
        expect(info.uid).toBe(0);
        expect(info.mode & 0o777).toBe(0o700);
        const found = await sh(
          client,
          "find / \\( -path /proc -o -path /sys \\) -prune -o \\( -name 'disk-spare' -o -name '*.img' \\) -print 2>/dev/null; true",
        );
        expect(found.stdout.trim()).toBe('');
      },
    );

    it('never shows a sandbox its launch parameters (its environment), which are gone once it runs', async () => {
      await sh(client, 'true');
      const params: string[] = [];
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory() && !entry.isSymbolicLink()) walk(path.join(dir, entry.name));
          else if (entry.name === 'launch.params') params.push(path.join(dir, entry.name));
        }
      };
      walk(path.join(state.dir, 'sandboxes'));
      expect(params).toEqual([]);
      const found = await sh(
        client,
        "find / \\( -path /proc -o -path /sys \\) -prune -o -name 'launch.params' -print 2>/dev/null; true",
      );
      expect(found.stdout.trim()).toBe('');
    });

    it.skipIf(!asRoot)(
      'hits its disk cap with ENOSPC, costs the host at most the cap, and works again once space is freed',
      async () => {
        const before = allocatedBytes(state.dir);
        const r = await sh(client, 'head -c 200M /dev/zero > /tmp/fill; head -c 10M /dev/zero > big; echo done');
        expect(r.stderr).toMatch(/No space left on device/);
        expect(allocatedBytes(state.dir) - before).toBeLessThanOrEqual(64 * 1024 * 1024);
        const again = await sh(client, 'rm -f /tmp/fill big && echo fine > after.txt && cat after.txt');
        expect(again.stdout).toBe('fine\n');
      },
    );
  });
}

if (!asRoot)
  console.warn('skipped: the disk cap needs a server started as root (loop-mounted images); this run is unprivileged');

/** Bytes the files under `dir` take on disk (sparse images count only what they hold). */
function allocatedBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    total += st.isDirectory() ? allocatedBytes(p) : st.blocks * 512;
  }
  return total;
}
