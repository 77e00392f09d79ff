import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  httpClient,
  isolationSkipReason,
  sh,
  startHttpServer,
  tempDir,
  text,
  type HttpServer,
} from '../helpers.js';

/**
 * End to end: a process inside a sandbox grabs its agent's stdout (pidfd_getfd, which needs nothing
 * but the same uid) and forges frames to the server. Its own sandbox must be stopped with a clear
 * note, while another session of the same server goes on with its files and processes. Once the
 * agent's descriptors are out of reach, the forge reports "unreachable" and the test checks that the
 * sandbox is intact; agent-frames.test.ts proves the server side on its own.
 */

/** Writes `payload` (Python bytes expression) to the agent's stdout, from inside the sandbox. */
function forgeCommand(payload: string): string {
  return `python3 - "$PPID" <<'EOF'
import ctypes, os, sys
agent = int(sys.argv[1])
if b"main.cjs" not in open(f"/proc/{agent}/cmdline", "rb").read():
    print("unreachable: parent is not the agent"); sys.exit(0)
libc = ctypes.CDLL(None, use_errno=True)
try:
    pidfd = os.pidfd_open(agent)
except OSError as e:
    print(f"unreachable: pidfd_open errno {e.errno}"); sys.exit(0)
fd = libc.syscall(438, pidfd, 1, 0)  # pidfd_getfd(pidfd, 1, 0): the agent's stdout
if fd < 0:
    print(f"unreachable: pidfd_getfd errno {ctypes.get_errno()}"); sys.exit(0)
data = ${payload}
for i in range(0, len(data), 1 << 20):
    os.write(fd, data[i:i + (1 << 20)])
print("forged")
EOF`;
}

const ATTACKS: [string, string][] = [
  ['a __proto__ body', String.raw`b'{"$bin":"__proto__.polluted","$len":5}\nhello'`],
  [
    'a 100 GB body',
    String.raw`b'{"id":1,"ok":true,"result":{},"$bin":"result.data","$len":100000000000}\n' + b'x' * 4096`,
  ],
  ['a line without end', String.raw`b'{"id":' + b'1' * (34 << 20)`],
  ['a reply of the wrong shape', String.raw`b'{"ready":"no"}\n'`],
];

for (const isolation of ['bwrap', 'unshare'] as const)
  describe.skipIf(!!isolationSkipReason(isolation))(`forged agent frames (${isolation})`, () => {
    let state: ReturnType<typeof tempDir>;
    let server: HttpServer;
    let attacker: Client;
    let bystander: Client;
    let bystanderProcess: string;

    beforeAll(async () => {
      state = tempDir();
      // A small output cap keeps the reply line limit (32 MiB + 8x the cap) close to its floor.
      server = await startHttpServer({
        SANDBOX_STATE_DIR: state.dir,
        SANDBOX_ISOLATION: isolation,
        SANDBOX_MAX_OUTPUT: '4096',
      });
      ({ client: attacker } = await httpClient(server.url));
      ({ client: bystander } = await httpClient(server.url));
      await sh(bystander, 'echo kept > /workspace/bystander.txt');
      const started = await call(bystander, 'shell_start', { command: 'sleep 600' });
      bystanderProcess = started.structuredContent!.processId as string;
    });
    afterAll(async () => {
      await attacker?.close().catch(() => undefined);
      await bystander?.close().catch(() => undefined);
      await server?.stop();
      state?.cleanup();
    });

    for (const [name, payload] of ATTACKS) {
      it(`a sandbox that sends ${name} is stopped; the other session goes on`, async () => {
        await sh(attacker, 'echo mine > /workspace/attacker.txt');
        const forged = await Promise.race([
          call(attacker, 'shell_exec', { command: forgeCommand(payload), timeout_s: 60 }),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('the forging call got no answer in 30 s')), 30_000),
          ),
        ]);
        if (!forged.isError && String(forged.structuredContent?.stdout).startsWith('unreachable')) {
          console.warn(
            `${isolation}: the agent's stdout is out of reach (${String(forged.structuredContent!.stdout).trim()}); the sandbox must be intact`,
          );
          expect((await sh(attacker, 'cat /workspace/attacker.txt')).stdout).toBe('mine\n');
        } else {
          expect(forged.isError, text(forged)).toBe(true);
          expect(text(forged)).toMatch(
            /the sandbox broke the agent protocol and was stopped.*call again for a fresh one/s,
          );
          const next = await call(attacker, 'shell_exec', { command: 'cat /workspace/attacker.txt 2>&1; echo done' });
          expect(next.isError).toBeFalsy();
          expect(text(next)).toMatch(/previous sandbox of this session broke the agent protocol and was stopped/);
          expect(next.structuredContent!.stdout).toMatch(/No such file.*\ndone\n$/s);
        }
        expect((await sh(bystander, 'cat /workspace/bystander.txt')).stdout).toBe('kept\n');
        const list = await call(bystander, 'shell_list');
        expect(JSON.stringify(list.structuredContent)).toContain(bystanderProcess);
        expect(text(list)).toMatch(/running/);
        const health = await fetch(new URL('/healthz', server.url));
        expect(health.status).toBe(200);
        expect(server.proc.exitCode).toBeNull();
      }, 120_000);
    }
  });
