import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { SandboxError } from '../../errors.js';
import { SandboxChromium } from '../shared/cdp-browser.js';
import type {
  BrowserEndpoint,
  ExecOptions,
  ExecResult,
  FilesApi,
  PreviewUrlBuilder,
  ProcessApi,
  Sandbox,
} from '../types.js';
import type { EgressReport, SandboxEgress } from '../../egress/service.js';
import type { DockerEgressRelay } from './egress.js';
import { ContainerExec } from './exec.js';
import { DockerFiles } from './files.js';
import type { LastUse } from './last-use.js';
import { connectPort } from './ports.js';
import { DockerProcesses } from './processes.js';

const DOCKER_CHROMIUM_HINT =
  'use an image with Chromium on its PATH (Debian/Ubuntu based: RUN apt-get install -y --no-install-recommends chromium; set SANDBOX_DOCKER_IMAGE), or use the local provider for the browser tools';

const gone = () =>
  new SandboxError('SANDBOX_GONE', 'this sandbox has ended (its container was removed)', {
    hint: 'the next call starts a fresh sandbox',
  });

/** One container: commands, background processes and files all go through the engine's exec API. */
export class DockerSandbox implements Sandbox {
  readonly provider = 'docker' as const;
  readonly runner: ContainerExec;
  private readonly procs: DockerProcesses;
  private readonly fileApi: DockerFiles;
  private alive = true;
  private killed?: Promise<void>;
  private chromium?: SandboxChromium;
  private egressDoor?: { door: SandboxEgress; relay: DockerEgressRelay };
  /** A stateless handle's container: its last use, marked in it for every replica's idle reaper. */
  private lastUse?: LastUse;

  constructor(
    readonly id: string,
    readonly workdir: string,
    readonly createdAt: Date,
    docker: Dockerode,
    readonly container: Dockerode.Container,
    errorContext: { dockerHost: string },
    private readonly maxOutputBytes: number,
    private readonly remove: () => Promise<void>,
    /** The server's preview URL builder, once the CLI has set it (see SandboxProvider.usePreviewUrls). */
    private readonly previewUrls: () => PreviewUrlBuilder | undefined,
    /** Drops it from the sandboxes the provider removes at shutdown. */
    private readonly forget: () => void = () => undefined,
  ) {
    this.runner = new ContainerExec(docker, container, workdir, errorContext, () => {
      this.alive = false;
    });
    this.procs = new DockerProcesses(this.runner, id);
    this.fileApi = new DockerFiles(this.runner);
  }

  /** After the container started: the kill controller must exist before the sandbox can run out of processes. */
  async started(): Promise<void> {
    await this.runner.startController();
  }

  /** SANDBOX_NETWORK=egress: the proxy socket and the relay, closed with the sandbox. */
  attachEgress(door: SandboxEgress, relay: DockerEgressRelay): void {
    this.egressDoor = { door, relay };
  }

  /** A handle's container: every use marks it (see LastUse); marked once now, before any other call. */
  async trackUse(lastUse: LastUse): Promise<void> {
    this.lastUse = lastUse;
    await lastUse.mark();
  }

  egress(): EgressReport | undefined {
    return this.egressDoor?.door.report();
  }

  isAlive(): boolean {
    return this.alive && !this.killed;
  }

  private check(): void {
    if (!this.isAlive()) throw gone();
    this.lastUse?.note();
  }

  async exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    this.check();
    const release = this.lastUse?.hold();
    try {
      return await this.runner.run(command, { ...opts, maxOutputBytes: this.maxOutputBytes });
    } finally {
      release?.();
    }
  }

  /** Each method checks liveness first, so a killed sandbox answers SANDBOX_GONE without asking the engine. */
  readonly processes: ProcessApi = {
    spawn: async (command, spawnOptions) => {
      this.check();
      return this.procs.spawn(command, spawnOptions);
    },
    read: async (id, readOptions) => {
      this.check();
      return this.procs.read(id, readOptions);
    },
    write: async (id, input, encoding) => {
      this.check();
      return this.procs.write(id, input, encoding);
    },
    kill: async (id, signal) => {
      this.check();
      return this.procs.kill(id, signal);
    },
    list: async () => {
      this.check();
      return this.procs.list();
    },
    killAll: async () => {
      this.check();
      return this.procs.killAll();
    },
  };

  readonly files: FilesApi = {
    read: async (filePath, options) => {
      this.check();
      return this.fileApi.read(filePath, options);
    },
    write: async (filePath, content, options) => {
      this.check();
      return this.fileApi.write(filePath, content, options);
    },
    stat: async (filePath) => {
      this.check();
      return this.fileApi.stat(filePath);
    },
    list: async (filePath) => {
      this.check();
      return this.fileApi.list(filePath);
    },
    mkdir: async (filePath) => {
      this.check();
      return this.fileApi.mkdir(filePath);
    },
    remove: async (filePath, options) => {
      this.check();
      return this.fileApi.remove(filePath, options);
    },
    rename: async (first, second, options) => {
      this.check();
      return this.fileApi.rename(first, second, options);
    },
    readText: async (filePath, readTextOptions) => {
      this.check();
      return this.fileApi.readText(filePath, readTextOptions);
    },
    tree: async (filePath, treeOptions) => {
      this.check();
      return this.fileApi.tree(filePath, treeOptions);
    },
    search: async (pat, searchOptions) => {
      this.check();
      return this.fileApi.search(pat, searchOptions);
    },
    walk: async (filePath, options) => {
      this.check();
      return this.fileApi.walk(filePath, options);
    },
    symlink: async (target, filePath) => {
      this.check();
      return this.fileApi.symlink(target, filePath);
    },
    chmod: async (filePath, match) => {
      this.check();
      return this.fileApi.chmod(filePath, match);
    },
    append: async (filePath, data) => {
      this.check();
      return this.fileApi.append(filePath, data);
    },
    sha256: async (ps) => {
      this.check();
      return this.fileApi.sha256(ps);
    },
  };

  /** A TCP connection to `port` on the container's loopback (see ports.ts); the preview proxy pipes to it. */
  async connectPort(port: number): Promise<Duplex> {
    this.check();
    const stream = await connectPort(this.runner, port);
    const release = this.lastUse?.hold();
    if (release) stream.once('close', release);
    return stream;
  }

  /** Previews go through the server's own listener, which reaches the port with connectPort. */
  async portUrl(port: number): Promise<{ url: string }> {
    this.check();
    const urlFor = this.previewUrls();
    if (!urlFor)
      throw new SandboxError(
        'UNSUPPORTED',
        'preview URLs are not available: the server was started without its preview listener',
      );
    return { url: await urlFor(this.id, port) };
  }

  /** Chromium from the image, started in the container and reached through a host loopback listener (cdp-browser.ts). */
  async browserEndpoint(opts: { chromiumPath: string }): Promise<BrowserEndpoint> {
    this.check();
    this.chromium ??= new SandboxChromium(this, DOCKER_CHROMIUM_HINT);
    return this.chromium.endpoint(opts.chromiumPath);
  }

  async keepAlive(): Promise<void> {
    // Containers have no engine-side lifetime; idle time is tracked by the session manager.
  }

  /** Another replica may use it (a handle's sandbox): drop this server's streams, leave the container. */
  detach(): void {
    if (this.killed) return;
    this.killed = Promise.resolve();
    this.alive = false;
    this.lastUse?.stop();
    this.chromium?.dispose();
    this.procs.closeAll();
    this.runner.stopController();
    this.forget();
  }

  /** Removes the container with its processes and its /workspace volume. */
  kill(): Promise<void> {
    this.killed ??= (async () => {
      this.alive = false;
      this.lastUse?.stop();
      this.chromium?.dispose();
      this.procs.closeAll();
      this.runner.stopController();
      this.egressDoor?.relay.stop();
      this.egressDoor?.door.close();
      await this.remove();
    })();
    return this.killed;
  }
}
