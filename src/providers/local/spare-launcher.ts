import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../logger.js';

/**
 * One launcher process started ahead of its sandbox. Starting a program forks the server, and a fork of
 * a process this size stalls its event loop for about 14 ms on a small VM: on a cold start's path, that
 * was a fifth of it. A spare launcher is the fork done ahead, when the server is quiet. It is no
 * sandbox: only the launch script (scripts/params.sh), waiting on its stdin for its parameters, with
 * nothing of a sandbox made (no folders, namespaces but its own mount one, agent or cgroup). With a
 * disk cap it also copies the next sandbox's empty image while it waits, which no longer forks the
 * server either. A launch that finds no spare starts its launcher itself, the same way.
 */
export interface Launcher {
  child: ChildProcessWithoutNullStreams;
  /** The empty disk image it copied ahead (stage.sh uses it if the copy completed). */
  spareImage?: string;
  /** The host uid that image's folders were given ahead: the sandbox that takes it runs as this uid. */
  hostUid?: number;
}

export interface LauncherSpawn {
  file: string;
  /** The launch script's argv, ending with the flag that makes it read its parameters from stdin. */
  args: string[];
  env: Record<string, string>;
}

/** How long the server must have had no agent request in flight (or sent, or answered) before it forks a spare. */
const QUIET_MS = 15;
/** A spare is made at the latest this long after it was wanted, quiet or not. */
const MAX_WAIT_MS = 1000;

export class SpareLauncher {
  private spare?: Launcher;
  private timer?: NodeJS.Timeout;
  private wantedSince = 0;
  private closed = false;
  private serial = 0;

  constructor(
    private readonly opts: {
      spawnArgs: () => LauncherSpawn;
      /** Where a spare copies the next disk image ahead (undefined: no disk cap). */
      imageDir?: string;
      /** A name part unique to this server among those sharing the state dir. */
      owner: string;
      /** How long no agent request has been in flight, sent or answered: a fork would delay an answer. */
      quietForMs: () => number;
      /** A root server's sandbox uids (host-identity.ts): a spare's image is made a fresh one's ahead. */
      uids?: { take(): number; release(uid: number): void };
      log: Logger;
    },
  ) {}

  /** A started launcher: the spare if there is one, else one started now. A new spare follows later. */
  take(): Launcher {
    const spare = this.spare;
    this.spare = undefined;
    this.want();
    if (spare && spare.child.exitCode === null && spare.child.signalCode === null) return spare;
    if (spare) this.discard(spare);
    return this.start(false);
  }

  /** Hands a launcher its parameters: environment and command, NUL-separated in a file only the server's user reads. */
  static begin(launcher: Launcher, paramsFile: string, env: Record<string, string>, command: string[]): void {
    const words = [...Object.entries(env).map(([name, value]) => `${name}=${value}`), '--', ...command];
    if (words.some((word) => word.includes('\0'))) throw new Error('a launch parameter holds a NUL byte');
    if (paramsFile.includes('\n')) throw new Error(`a sandbox path holds a line break: ${JSON.stringify(paramsFile)}`);
    // A few KiB in the sandbox's own folder: written at once, where three thread-pool hops took ms.
    writeFileSync(paramsFile, words.join('\0'), { mode: 0o600 });
    launcher.child.stdin.write(`${paramsFile}\n`);
  }

  /** Gives back what a taken launcher was made ahead for and its sandbox does not use (a named workspace's). */
  unused(launcher: Launcher, uid: number | undefined): void {
    if (launcher.hostUid === undefined || launcher.hostUid === uid) return;
    this.opts.uids?.release(launcher.hostUid);
    launcher.hostUid = undefined; // given back once: an abandon() later must not free it again
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.spare) this.discard(this.spare);
    this.spare = undefined;
  }

  /** A taken launcher whose sandbox could not be prepared: ended as an unused spare is. */
  abandon(launcher: Launcher): void {
    this.discard(launcher);
  }

  /** Ends a spare: its stdin closed, it removes the image it copied (params.sh) and leaves. */
  private discard(spare: Launcher): void {
    spare.child.stdin.end();
    setTimeout(() => spare.child.kill('SIGKILL'), 2000).unref();
    if (spare.hostUid !== undefined) this.opts.uids?.release(spare.hostUid);
  }

  private want(): void {
    if (this.closed || this.timer) return;
    this.wantedSince = Date.now();
    this.tick();
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed || this.spare) return;
    if (this.opts.quietForMs() >= QUIET_MS || Date.now() - this.wantedSince >= MAX_WAIT_MS) {
      this.spare = this.start(true);
      return;
    }
    this.timer = setTimeout(() => this.tick(), 5);
    this.timer.unref();
  }

  private start(ahead: boolean): Launcher {
    const { file, args, env } = this.opts.spawnArgs();
    const spareImage =
      ahead && this.opts.imageDir
        ? path.join(this.opts.imageDir, `${this.opts.owner}-${++this.serial}.img`)
        : undefined;
    const hostUid = spareImage ? this.opts.uids?.take() : undefined;
    const spareEnv = {
      ...(spareImage ? { SANDBOX_SPARE_IMAGE: spareImage } : {}),
      ...(hostUid !== undefined ? { SANDBOX_SPARE_UID: String(hostUid) } : {}),
    };
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/', env: { ...env, ...spareEnv } });
    child.on('error', (error) => this.opts.log.warn({ err: error.message }, 'could not start a sandbox launcher'));
    if (ahead) {
      // A spare that ends before use (killed, or its copy failed badly) is replaced at the next take.
      child.once('exit', () => {
        if (this.spare?.child !== child) return;
        this.discard(this.spare);
        this.spare = undefined;
      });
    }
    return { child, spareImage, hostUid };
  }
}
