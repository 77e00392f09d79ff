import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing } from '../browser-helpers.js';
import { call, isolationSkipReason, stdioClient, tempDir, text } from '../helpers.js';

/**
 * Chromium in a local sandbox runs as the sandbox's user. A Chromium the server started with a CDP pipe
 * must be as unreachable as the agent: sandbox code that took the pipe's end (pidfd_getfd, /proc/<pid>/fd)
 * could write a message without end, which Playwright would buffer in the server without limit.
 */
const ATTACK_PIPE = String.raw`
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
pids = subprocess.run(["pgrep", "-f", "--", "--remote-debugging-pipe"], capture_output=True, text=True).stdout.split()
pids = [int(p) for p in pids if int(p) != os.getpid()]
print(f"pipe-chromiums={len(pids)}")
for pid in pids:
    for fd in (3, 4):
        try: open(f"/proc/{pid}/fd/{fd}", "wb").write(b"x" * 65536); print("fd-write=REACHED")
        except OSError: pass
    pidfd = libc.syscall(434, pid, 0)
    if pidfd >= 0 and libc.syscall(438, pidfd, 4, 0) >= 0: print("pidfd_getfd=REACHED")
print("done")
`;

const noChromium = chromiumMissing();
for (const isolation of ['bwrap', 'unshare'] as const) {
  describe.skipIf(!!isolationSkipReason(isolation) || !!noChromium)(
    `Chromium in a hostile sandbox (${isolation})`,
    () => {
      let client: Client;
      let state: ReturnType<typeof tempDir>;

      beforeAll(async () => {
        state = tempDir('sbx-sec-browser-');
        ({ client } = await stdioClient({ SANDBOX_STATE_DIR: state.dir, SANDBOX_ISOLATION: isolation }));
      });
      afterAll(async () => {
        await client?.close();
        state?.cleanup();
      });

      it("cannot take Chromium's CDP pipe; the browser keeps answering", async () => {
        const nav = await call(client, 'browser_navigate', { url: 'data:text/html,<h1>steady</h1>' });
        expect(nav.isError, text(nav)).toBeFalsy();
        const r = await call(client, 'shell_exec', { command: 'python3 -', stdin: ATTACK_PIPE });
        const out = (r.structuredContent as { stdout: string }).stdout;
        expect(out).toContain('done');
        expect(out).not.toContain('REACHED');
        // Either the server holds a pipe to the browser (root, or unshare) or it speaks CDP over the bridge.
        if (process.getuid?.() === 0) expect(out).not.toContain('pipe-chromiums=0');
        const snap = await call(client, 'browser_snapshot');
        expect(snap.isError, text(snap)).toBeFalsy();
        expect(text(snap)).toContain('steady');
      });
    },
  );
}
if (noChromium) console.warn(`[security browser] skipped: ${noChromium}`);
