import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { DaytonaProvider } from '../../src/providers/daytona/provider.js';
import { E2BProvider } from '../../src/providers/e2b/provider.js';
import type { Sandbox, SandboxProvider } from '../../src/providers/types.js';
import type { FakeHttp, Flood } from '../fakes/common.js';
import { FakeDaytona } from '../fakes/daytona.js';
import { FakeE2B } from '../fakes/e2b.js';
import { tempDir } from '../helpers.js';

/**
 * The E2B and Daytona adapters read through the vendors' download streams: a read takes the range it
 * asked for and drops the download there, and a whole read of a file over the transfer cap (64 MiB)
 * is refused, so a sandbox's huge file (or a device, which never ends) is never buffered whole in the
 * server; and the e2b SDK's own copy of a command's whole output is switched off. Beneath that, the
 * transport stops reading any one answer of the in-sandbox daemon past 65 MiB (a Connect stream: any
 * one message), which a hostile sandbox could otherwise make the SDK buffer whole. Run against the
 * local fakes of the vendors' APIs with the real SDKs.
 */
const BIG = 70 * 1024 * 1024;

interface Started {
  provider: SandboxProvider;
  http: FakeHttp;
  stop: () => Promise<void>;
}

const vendors: [string, () => Promise<Started>][] = [
  [
    'e2b',
    async () => {
      const fake = await new FakeE2B().start();
      return {
        provider: await start('e2b', { E2B_API_KEY: fake.apiKey, E2B_API_URL: fake.url, E2B_SANDBOX_URL: fake.url }),
        http: fake.http,
        stop: () => fake.stop(),
      };
    },
  ],
  [
    'daytona',
    async () => {
      const fake = await new FakeDaytona().start();
      return {
        provider: await start('daytona', { DAYTONA_API_KEY: fake.apiKey, DAYTONA_SERVER_URL: fake.url }),
        http: fake.http,
        stop: () => fake.stop(),
      };
    },
  ],
];

async function start(name: 'e2b' | 'daytona', env: Record<string, string>): Promise<SandboxProvider> {
  const { dir } = tempDir(`sbx-${name}-`);
  const config = loadConfig({}, { SANDBOX_PROVIDER: name, SANDBOX_STATE_DIR: dir, ...env });
  const p =
    name === 'e2b'
      ? await E2BProvider.start(config, createLogger('warn'))
      : await DaytonaProvider.start(config, createLogger('warn'));
  const shutdown = p.shutdown.bind(p);
  p.shutdown = async () => {
    await shutdown();
    rmSync(dir, { recursive: true, force: true });
  };
  return p;
}

for (const [name, make] of vendors)
  describe(`${name} reads are capped (fake API, real SDK)`, () => {
    let provider: SandboxProvider;
    let http: FakeHttp;
    let stop: () => Promise<void>;
    let sb: Sandbox;

    beforeAll(async () => {
      ({ provider, http, stop } = await make());
      sb = await provider.create({ labels: { suite: 'cloud-reads' }, timeoutMs: 120_000 });
      const r = await sb.exec(`truncate -s ${BIG} big.bin && printf abcdefghijklmnop > small.txt`, {
        timeoutMs: 30_000,
      });
      expect(r.exitCode).toBe(0);
    }, 120_000);
    afterAll(async () => {
      await sb?.kill().catch(() => undefined);
      await provider?.shutdown();
      await stop?.();
    });

    it('a whole read of a file over 64 MiB is refused', async () => {
      await expect(sb.files.read('big.bin')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
      await expect(sb.files.readText('big.bin', { maxBytes: 1024 })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    });

    it('a range is read without the rest, and the size is the whole file', async () => {
      const r = await sb.files.read('big.bin', { offset: 1_000_000, length: 10 });
      expect(r).toMatchObject({ size: BIG });
      expect(r.data.equals(Buffer.alloc(10))).toBe(true);
      const small = await sb.files.read('small.txt', { offset: 2, length: 3 });
      expect([small.data.toString(), small.size]).toEqual(['cde', 16]);
      expect((await sb.files.read('small.txt')).data.toString()).toBe('abcdefghijklmnop');
      expect(await sb.files.stat('big.bin')).toMatchObject({ type: 'file', size: BIG });
    });

    // Daytona's executeSessionCommand answers with the whole output in one response: past the cap the
    // server stops reading it and says how to get the output (the fake holds all of it in this
    // process, so memory is not measured here; the flood cases below show the server stops reading).
    if (name === 'daytona')
      it('a command printing 80 MB fails with a clear error instead of buffering it whole', async () => {
        const failure = await sb.exec('head -c 80000000 /dev/zero | tr "\\0" x', { timeoutMs: 120_000 }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toMatchObject({ code: 'LIMIT_EXCEEDED', hint: expect.stringMatching(/redirected to a file/) });
      }, 180_000);
    else
      it('a command printing 200 MB costs the server a bounded amount of memory', async () => {
        let peak = 0;
        const base = process.memoryUsage().heapUsed;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().heapUsed - base);
        }, 20);
        try {
          const r = await sb.exec('head -c 200000000 /dev/zero | tr "\\0" x; echo; echo end', { timeoutMs: 120_000 });
          expect(r.stdout.endsWith('end\n')).toBe(true);
          expect(r.truncated).toBe(true);
        } finally {
          clearInterval(sampler);
        }
        // The head and tail kept are a few MiB; the whole output would be 200 MB of strings.
        expect(peak).toBeLessThan(120 * 1024 * 1024);
      }, 180_000);

    // Daytona's session logs come whole on every poll: past the cap, the new bytes come from the
    // process's record in the sandbox, a piece at a time.
    if (name === 'daytona')
      it('a background process that printed more than the cap is still read to its end', async () => {
        const p = await sb.processes.spawn('head -c 70000000 /dev/zero | tr "\\0" x; echo; echo the-end; sleep 60', {});
        try {
          let cursor = 0;
          let tail = '';
          const deadline = Date.now() + 90_000;
          while (!tail.includes('the-end') && Date.now() < deadline) {
            const r = await sb.processes.read(p.processId, { cursor, waitMs: 2000, maxBytes: 1 << 20 });
            cursor = r.cursor;
            tail = (tail + r.output).slice(-100);
          }
          expect(tail).toContain('the-end');
          expect(cursor).toBeGreaterThan(70_000_000);
        } finally {
          await sb.processes.kill(p.processId, 'SIGKILL');
        }
      }, 180_000);

    it('file search skips the big file instead of downloading it', async () => {
      const r = await sb.files.search('abc', { maxResults: 10, caseSensitive: true, timeoutMs: 30_000 });
      expect(r.matches.map((m) => m.path)).toEqual(['small.txt']);
      expect(r.largeSkipped).toBe(1);
    });

    // The daemon answering these runs inside the sandbox, where hostile code can replace it.
    // E2B's command output is a Connect stream: one message announced as 2 GiB.
    const connectStream = { contentType: 'application/connect+json', prefix: Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]) };
    const floods: [string, string, RegExp, (sandbox: Sandbox) => Promise<unknown>, Flood['start']?][] =
      name === 'e2b'
        ? [
            ['a directory listing', 'POST', /ListDir$/, (sandbox) => sandbox.files.list('.')],
            [
              'a command',
              'POST',
              /process\.Process\/Start$/,
              (sandbox) => sandbox.exec('echo hi', { timeoutMs: 60_000 }),
              connectStream,
            ],
          ]
        : [
            ['a directory listing', 'GET', /\/files$/, (sandbox) => sandbox.files.list('.')],
            ['a command', 'POST', /\/exec$/, (sandbox) => sandbox.exec('echo hi', { timeoutMs: 60_000 })],
          ];
    if (name === 'e2b')
      it('a command whose stream the daemon never ends fails past its timeout instead of hanging', async () => {
        const event = Buffer.from(JSON.stringify({ event: { start: { pid: 4242 } } }));
        const head = Buffer.alloc(5);
        head.writeUInt32BE(event.length, 1);
        const flood = http.flood('POST', /process\.Process\/Start$/, 0, {
          contentType: 'application/connect+json',
          prefix: Buffer.concat([head, event]),
          hold: true,
        });
        const started = performance.now();
        const failure = await sb.exec('echo hi', { timeoutMs: 1000 }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/did not end the command/) });
        // Its own 1 s and the 10 s grace; without the bound it never returns.
        expect(performance.now() - started).toBeLessThan(30_000);
        await flood.done;
        expect((await sb.exec('echo after', { timeoutMs: 30_000 })).stdout).toBe('after\n');
      }, 60_000);

    // A plain HTTP answer dressed as a Connect stream of empty messages: only the request decides how
    // an answer is counted, or this one would pass message by message and be buffered whole.
    if (name === 'e2b')
      it('a file upload answered with 300 MB claiming to be a Connect stream is cut off too', async () => {
        const flood = http.flood('POST', /^\/files$/, 300 << 20, {
          contentType: 'application/connect+json',
          prefix: Buffer.alloc(0),
          fill: 0,
        });
        const failure = await sb.files.write('upload.txt', 'hi').then(
          () => undefined,
          (error: unknown) => error,
        );
        await flood.done;
        expect(flood.written).toBeLessThan(100 << 20);
        expect(failure).toMatchObject({ code: 'LIMIT_EXCEEDED' });
      }, 120_000);

    for (const [what, method, route, call, start] of floods)
      it(`${what} answered with 300 MB is cut off near the cap, with a clear error`, async () => {
        const flood = http.flood(method, route, 300 << 20, start);
        const failure = await call(sb).then(
          () => undefined,
          (error: unknown) => error,
        );
        await flood.done;
        // Without the cap the SDK would buffer the whole answer; with it the server hangs up after
        // 65 MiB (plus what socket buffers held).
        expect(flood.written).toBeLessThan(100 << 20);
        expect(failure).toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/more than 65 MiB/) });
        // The sandbox still works afterwards.
        expect((await sb.exec('echo after', { timeoutMs: 30_000 })).stdout).toBe('after\n');
      }, 120_000);
  });
