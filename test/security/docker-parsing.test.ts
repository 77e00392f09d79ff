import { PassThrough, type Duplex, type Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { Controller, type ExecStarter } from '../../src/providers/docker/control.js';
import { ContainerExec } from '../../src/providers/docker/exec.js';
import { TrailerScanner } from '../../src/providers/docker/framing.js';

/**
 * The docker provider parses bytes that come out of the container: a command's output (which knows
 * its own token, so it can write the start of a trailer), the kill controller's answers (it runs as
 * the sandbox user, so a sandbox process can write to its stdout), and helper scripts' output. None
 * may make the server buffer without bound. Units with fake streams: no Docker engine needed.
 */
const MiB = 1024 * 1024;
const token = 'abc123';

describe('docker output parsing with hostile bytes', () => {
  it('a forged trailer start followed by endless output is passed on, not held', () => {
    let emitted = 0;
    const trailers: string[] = [];
    const s = new TrailerScanner(token, 'out', {
      data: (b) => {
        emitted += b.length;
      },
      trailer: (v) => trailers.push(v),
    });
    const prefix = Buffer.from(`\0\x1b${token}:out:`);
    s.push(prefix);
    const chunk = Buffer.alloc(MiB, 0x61);
    for (let i = 0; i < 64; i++) s.push(chunk);
    const total = prefix.length + 64 * MiB;
    expect(total - emitted).toBeLessThanOrEqual(prefix.length + 16);
    // The real trailer, when it comes, is still recognised.
    s.push(Buffer.from(`\0\x1b${token}:out:\nafter`));
    expect(trailers).toEqual(['']);
  });

  it('the kill controller drops overlong lines and still hears its answers', async () => {
    const stream = new PassThrough();
    let feed!: (b: Buffer) => void;
    const runner: ExecStarter = {
      start: async () => ({ stream: stream as unknown as Duplex }),
      demux: (_s, onStdout) => {
        feed = onStdout;
        return new Promise<void>(() => undefined);
      },
    };
    const ctl = new Controller();
    await ctl.start(runner);
    const chunk = Buffer.alloc(MiB, 0x62);
    for (let i = 0; i < 32; i++) feed(chunk);
    const held = (ctl as unknown as { buffered: string }).buffered.length;
    expect(held).toBeLessThanOrEqual(1024);
    const asked: string[] = [];
    stream.on('data', (b: Buffer) => asked.push(b.toString()));
    const killed = ctl.kill('tok1', 'SIGKILL');
    feed(Buffer.from('\ndone tok1\n'));
    await expect(killed).resolves.toBe(true);
    expect(asked.join('')).toContain('kill tok1 SIGKILL');
    ctl.stop();
  });

  it('a helper script that prints more than the cap is stopped with LIMIT_EXCEEDED', async () => {
    const commands: string[][] = [];
    let flooded = 0;
    const docker = {
      modem: {
        demuxStream: (stream: PassThrough, out: Writable) => {
          stream.on('data', (b: Buffer) => out.write(b));
        },
      },
    } as unknown as Dockerode;
    const container = {
      exec: async (o: { Cmd: string[] }) => {
        commands.push(o.Cmd);
        const stream = new PassThrough();
        const isHelper = o.Cmd[3] === 'sandbox-mcp';
        const ending = () => {
          stream.end();
          stream.emit('close');
        };
        return {
          start: async () => {
            if (!isHelper) {
              setImmediate(ending);
              return stream;
            }
            // 100 MiB of "file content", a MiB a tick, until the server drops the stream.
            const pump = () => {
              if (stream.destroyed) return;
              if (flooded >= 100 * MiB) return ending();
              flooded += MiB;
              stream.write(Buffer.alloc(MiB, 0x63));
              setImmediate(pump);
            };
            setImmediate(pump);
            return stream;
          },
          inspect: async () => ({ Running: false, ExitCode: 0 }),
        };
      },
      inspect: async () => ({ State: { Running: true, Paused: false } }),
    } as unknown as Dockerode.Container;
    const runner = new ContainerExec(docker, container, '/workspace', { dockerHost: 'fake' }, () => undefined);
    // Compared as a word: printing a resolved 100 MiB result in a failure message would itself exhaust memory.
    const outcome = await runner.helper('cat big', []).then(
      (r) => `resolved with ${r.stdout.length} bytes`,
      (e: { code?: string }) => e.code,
    );
    expect(outcome).toBe('LIMIT_EXCEEDED');
    expect(flooded).toBeLessThan(100 * MiB);
    // The helper was killed (a kill script ran with its token).
    expect(commands.some((c) => c.includes('sandbox-mcp-kill'))).toBe(true);
  });
});
