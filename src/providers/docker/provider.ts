import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import type { Config } from '../../config.js';
import { SandboxError } from '../../errors.js';
import { settleWithin } from '../../settle-within.js';
import type { Logger } from '../../logger.js';
import { newSandboxId } from '../shared/sandbox-id.js';
import { scriptFile } from '../shared/script-file.js';
import { ServerRegistry } from '../shared/registry.js';
import type {
  CreateOptions,
  PreviewUrlBuilder,
  ProviderDescription,
  Sandbox,
  SandboxProvider,
  SandboxSummary,
} from '../types.js';
import { LABEL_HANDLE } from '../shared/owner.js';
import { EgressService } from '../../egress/service.js';
import { DockerEgressRelay, loadRelayScript } from './egress.js';
import { engineUnreachable, translateDockerError } from './errors.js';
import { ContainerExec } from './exec.js';
import { DockerHandleContainers } from './handles.js';
import { LastUse } from './last-use.js';
import { DockerSandbox } from './sandbox.js';

const WORKDIR = '/workspace';
const HOME = '/home/user';
const PING_TIMEOUT_MS = 5000;
/** scripts/probe-image.sh: whether the image gives the sandbox user what the tools need. */
const probeImageScript = scriptFile(new URL('./scripts/probe-image.sh', import.meta.url));
/** Container labels: what list() filters on and what orphan reaping reads. */
const L = {
  managed: 'sandbox-mcp.managed',
  id: 'sandbox-mcp.id',
  instance: 'sandbox-mcp.instance',
  host: 'sandbox-mcp.host',
  state: 'sandbox-mcp.state',
  created: 'sandbox-mcp.created',
  workspace: 'sandbox-mcp.workspace',
  /** The replicas that share one handle key (else one state dir): whose handle containers these are. */
  deployment: 'sandbox-mcp.deployment',
  userPrefix: 'sandbox-mcp.label.',
} as const;

/** dockerode's options from DOCKER_HOST (parsed here, so the engine is the configured one and no other). */
export function engineOptions(dockerHost: string, certPath?: string): Dockerode.DockerOptions {
  const u = new URL(dockerHost);
  if (u.protocol === 'unix:') return { socketPath: u.pathname || '/var/run/docker.sock' };
  if (u.protocol === 'npipe:') return { socketPath: dockerHost.slice('npipe://'.length) };
  if (u.protocol === 'ssh:')
    return { protocol: 'ssh', host: u.hostname, port: u.port || 22, username: u.username || undefined };
  const tls = !!certPath || u.protocol === 'https:' || u.port === '2376';
  const certs = certPath
    ? {
        ca: readFileSync(path.join(certPath, 'ca.pem')),
        cert: readFileSync(path.join(certPath, 'cert.pem')),
        key: readFileSync(path.join(certPath, 'key.pem')),
      }
    : {};
  return { protocol: tls ? 'https' : 'http', host: u.hostname, port: Number(u.port || (tls ? 2376 : 2375)), ...certs };
}

/**
 * Sandboxes as containers of one image: created lazily, one per session, removed with the session, on
 * idle timeout and, when their server died, by the next server that shares the state dir and host.
 */
export class DockerProvider implements SandboxProvider {
  readonly name = 'docker' as const;
  private readonly live = new Map<string, DockerSandbox>();
  private readonly stateLabel: string;
  private readonly host = os.hostname();
  private ready?: Promise<void>;
  private imageProbed = false;
  private closing = false;
  private previewUrls?: PreviewUrlBuilder;
  private readonly deployment: string;
  readonly handleContainers: DockerHandleContainers;

  private constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly docker: Dockerode,
    private readonly registry: ServerRegistry,
    /** SANDBOX_NETWORK=egress: the proxy, and the relay script each container runs to reach it. */
    private readonly egress?: { service: EgressService; relayScript: string },
  ) {
    this.stateLabel = createHash('sha256').update(config.stateDir).digest('hex').slice(0, 16);
    // A digest, never the key: labels are readable by anyone who can list the engine's containers.
    this.deployment = config.handleKey
      ? createHash('sha256').update('sandbox-mcp deployment\0').update(config.handleKey).digest('hex').slice(0, 16)
      : this.stateLabel;
    this.handleContainers = this.handleContainerSupport();
  }

  static async start(config: Config, log: Logger): Promise<DockerProvider> {
    const { default: Docker } = await import('dockerode');
    const docker = new Docker(engineOptions(config.dockerHost, config.dockerCertPath));
    const registry = new ServerRegistry(config.stateDir);
    await registry.register();
    const egress =
      config.network === 'egress'
        ? { service: await EgressService.start(config, log), relayScript: await loadRelayScript() }
        : undefined;
    const p = new DockerProvider(config, log, docker, registry, egress);
    p.handleContainers.startReaper();
    // The server starts without a reachable engine: tool calls then say what is wrong and how to fix it.
    await p.ensureReady().then(
      () => log.info({ dockerHost: config.dockerHost, image: config.dockerImage }, 'docker provider ready'),
      (e: SandboxError) => log.warn({ dockerHost: config.dockerHost }, `docker provider not ready: ${e.describe()}`),
    );
    return p;
  }

  private errCtx(doing: string) {
    return { dockerHost: this.config.dockerHost, image: this.config.dockerImage, doing };
  }

  /** Engine reachable and image present; remembered once true, retried on the next call while false. */
  private ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      try {
        await settleWithin(this.docker.ping(), PING_TIMEOUT_MS, () => {
          throw engineUnreachable(this.config.dockerHost, `no answer in ${PING_TIMEOUT_MS / 1000} s`);
        });
      } catch (e) {
        throw translateDockerError(e, this.errCtx('contacting the engine'));
      }
      // A missing image is a 404 "No such image", which the translation turns into how to build one.
      await this.docker
        .getImage(this.config.dockerImage)
        .inspect()
        .catch((error: unknown) => {
          throw translateDockerError(error, this.errCtx('looking up the image'));
        });
    })();
    this.ready.catch(() => {
      this.ready = undefined;
    });
    return this.ready;
  }

  usePreviewUrls(urlFor: PreviewUrlBuilder): void {
    this.previewUrls = urlFor;
  }

  /** Readiness (for /healthz): the engine answers and the image is there. */
  async health(): Promise<{ ready: boolean; detail?: string }> {
    try {
      await this.ensureReady();
      return { ready: true };
    } catch (e) {
      return { ready: false, detail: (e as SandboxError).describe() };
    }
  }

  describe(): ProviderDescription {
    const c = this.config;
    return {
      provider: 'docker',
      isolation: `docker container of ${c.dockerImage} (own pid, mount, ipc, uts${c.network === 'host' ? '' : ', net'} namespaces; uid 1000, all capabilities dropped, no-new-privileges, read-only root)`,
      network:
        c.network === 'host'
          ? 'host network (host loopback included)'
          : this.egress
            ? `egress: network none; HTTP(S) through the server's proxy (${this.egress.service.allow.join(', ') || 'nothing allowed'}), never to loopback or private addresses`
            : 'none (container loopback only)',
      limits: {
        memoryMb: c.memoryMb,
        cpus: c.cpus,
        pidsMax: c.pidsMax,
        fileSizeMb: c.fileSizeMb,
        // /tmp and home are tmpfs inside the memory limit; the engine's local volume driver caps no /workspace.
        diskMb: c.diskMb > 0 ? 'not enforced on /workspace (docker volume)' : 'off',
        maxOutputBytes: c.maxOutputBytes,
        defaultExecTimeoutS: c.execTimeoutS,
        maxExecTimeoutS: c.maxExecTimeoutS,
        idleTimeoutS: c.idleTimeoutS,
      },
      warnings:
        c.network === 'host'
          ? ['SANDBOX_NETWORK=host: sandboxes share the host network, host loopback services included']
          : [],
    };
  }

  /** The named volume that keeps a workspace's /workspace across its containers (and server restarts). */
  private workspaceVolume(workspace: string): string {
    return `sandbox-mcp-ws-${this.stateLabel}-${workspace}`;
  }

  private async ensureWorkspaceVolume(workspace: string): Promise<string> {
    const name = this.workspaceVolume(workspace);
    // Idempotent: an existing volume of that name is returned as it is, files included.
    await this.docker
      .createVolume({ Name: name, Labels: { [L.managed]: '1', [L.state]: this.stateLabel, [L.workspace]: workspace } })
      .catch((error: unknown) => {
        throw translateDockerError(error, this.errCtx('creating the workspace volume'));
      });
    return name;
  }

  private containerSpec(
    id: string,
    labels: Record<string, string>,
    envs: Record<string, string>,
    volume?: string,
  ): Dockerode.ContainerCreateOptions {
    const c = this.config;
    const mem = c.memoryMb * 1024 * 1024;
    const env = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME,
      USER: 'user',
      LOGNAME: 'user',
      SHELL: '/bin/bash',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      ...this.egress?.service.sandboxEnv(),
      ...envs,
    };
    return {
      name: `sandbox-mcp-${id}`,
      Image: c.dockerImage,
      // The image's entrypoint is not ours to run; the container idles and commands arrive through exec.
      Entrypoint: ['sleep'],
      Cmd: ['infinity'],
      User: '1000:1000',
      WorkingDir: WORKDIR,
      Hostname: 'sandbox',
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: {
        [L.managed]: '1',
        [L.id]: id,
        [L.instance]: this.registry.instanceId,
        [L.host]: this.host,
        [L.state]: this.stateLabel,
        [L.deployment]: this.deployment,
        [L.created]: new Date().toISOString(),
        ...Object.fromEntries(Object.entries(labels).map(([k, v]) => [`${L.userPrefix}${k}`, v])),
      },
      // An anonymous volume: writable under the read-only root, starts with the image's /workspace
      // (owner included) and goes with `remove({ v: true })`. A named workspace's volume (filled from the
      // image the same way when new) stays.
      Volumes: volume ? undefined : { [WORKDIR]: {} },
      HostConfig: {
        Binds: volume ? [`${volume}:${WORKDIR}`] : undefined,
        NetworkMode: c.network === 'host' ? 'host' : 'none',
        Init: true, // reaps orphans of exec'd commands, so killed trees leave no zombies against the pids limit
        Memory: mem,
        MemorySwap: mem,
        NanoCpus: Math.round(c.cpus * 1e9),
        PidsLimit: c.pidsMax,
        Ulimits: [{ Name: 'fsize', Soft: c.fileSizeMb * 1024 * 1024, Hard: c.fileSizeMb * 1024 * 1024 }],
        Privileged: false,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        ReadonlyRootfs: true,
        IpcMode: 'private',
        Tmpfs: {
          '/tmp': `rw,nosuid,nodev,size=${c.memoryMb}m,mode=1777`,
          [HOME]: `rw,nosuid,nodev,size=${c.memoryMb}m,uid=1000,gid=1000,mode=0755`,
        },
      },
    };
  }

  async create(opts: CreateOptions): Promise<Sandbox> {
    if (this.closing) throw new SandboxError('UNAVAILABLE', 'the server is shutting down');
    await this.ensureReady();
    const id = newSandboxId();
    let container: Dockerode.Container;
    try {
      const volume = opts.workspace ? await this.ensureWorkspaceVolume(opts.workspace) : undefined;
      container = await this.docker.createContainer(this.containerSpec(id, opts.labels, opts.envs ?? {}, volume));
    } catch (e) {
      throw translateDockerError(e, this.errCtx('creating the sandbox container'));
    }
    const sandbox = this.adopt(id, container, new Date());
    try {
      await container.start().catch((error: unknown) => {
        throw translateDockerError(error, this.errCtx('starting the sandbox container'));
      });
      await Promise.all([sandbox.started(), this.imageProbed ? undefined : this.probeImage(sandbox.runner)]);
      if (opts.labels[LABEL_HANDLE]) await sandbox.trackUse(this.lastUse(sandbox.runner));
      await this.startEgress(sandbox, { session: opts.labels.session, workspace: opts.workspace });
    } catch (e) {
      await sandbox.kill().catch(() => undefined);
      throw e;
    }
    this.log.debug({ sandboxId: id }, 'container started');
    return sandbox;
  }

  /** SANDBOX_NETWORK=egress: this sandbox's proxy socket and the relay that leads its container to it. */
  private async startEgress(sandbox: DockerSandbox, owner: { session?: string; workspace?: string }): Promise<void> {
    if (!this.egress) return;
    const door = await this.egress.service.openPrivate(sandbox.id, owner);
    const relay = new DockerEgressRelay(
      sandbox.runner,
      door,
      this.egress.relayScript,
      this.config.egressMaxConnections,
      this.log.child({ sandboxId: sandbox.id, component: 'egress' }),
    );
    sandbox.attachEgress(door, relay);
    await relay.start();
  }

  /** The server's egress totals (for /metrics); undefined when egress is off. */
  egressTotals() {
    return this.egress?.service.totals();
  }

  /** Once per server: does the image give the sandbox user what the tools need? Clear words if not. */
  private async probeImage(runner: ContainerExec): Promise<void> {
    const r = await runner.helper(probeImageScript(), []);
    if (r.exitCode !== 0) {
      const why =
        r.exitCode === 2
          ? r.stdout.toString().trim()
          : `bash did not run (exit ${r.exitCode}): ${(r.stdout.toString() + r.stderr).trim().slice(0, 300)}`;
      throw new SandboxError('UNAVAILABLE', `the image ${this.config.dockerImage} cannot host sandboxes: ${why}`, {
        hint: 'it needs bash, coreutils, findutils and grep, and a /workspace owned by uid 1000 (README: "Docker provider: building a sandbox image")',
      });
    }
    this.imageProbed = true;
  }

  /** Marks of a handle container's use: often enough that no reaper takes a container in use for idle. */
  private lastUse(runner: ContainerExec): LastUse {
    return new LastUse(runner, Math.min(30_000, Math.max(500, (this.config.idleTimeoutS * 1000) / 4)));
  }

  /** Previews and idle reaping of handle containers, on any replica (handles.ts). */
  private handleContainerSupport(): DockerHandleContainers {
    const handle = `${L.userPrefix}${LABEL_HANDLE}`;
    const describe = (info: Dockerode.ContainerInfo) => ({
      id: info.Labels[L.id] ?? info.Id,
      createdAt: new Date(info.Labels[L.created] ?? info.Created * 1000),
    });
    return new DockerHandleContainers({
      log: this.log,
      idleTimeoutS: this.config.idleTimeoutS,
      find: async (id) =>
        (
          await this.containers([handle, `${L.deployment}=${this.deployment}`, ...(id ? [`${L.id}=${id}`] : [])])
        ).filter((c) => c.State === 'running' || !id),
      describe,
      runner: (info) =>
        new ContainerExec(
          this.docker,
          this.docker.getContainer(info.Id),
          WORKDIR,
          this.errCtx('reading a last use'),
          () => undefined,
        ),
      attach: async (info) => {
        const { id, createdAt } = describe(info);
        const sandbox = this.build(id, this.docker.getContainer(info.Id), createdAt);
        await sandbox.trackUse(this.lastUse(sandbox.runner));
        return sandbox;
      },
      remove: async (info) => {
        const s = this.live.get(describe(info).id);
        if (s) await s.kill();
        else await this.removeContainer(this.docker.getContainer(info.Id));
      },
    });
  }

  /** A handle container another replica made, for the preview proxy (undefined: none of this deployment's). */
  async previewSandbox(id: string): Promise<Sandbox | undefined> {
    return this.handleContainers.preview(id);
  }

  private adopt(id: string, container: Dockerode.Container, createdAt: Date): DockerSandbox {
    const sandbox = this.build(id, container, createdAt);
    this.live.set(id, sandbox);
    return sandbox;
  }

  /** A sandbox object for a container; adopt() makes it one of those shutdown removes. */
  private build(id: string, container: Dockerode.Container, createdAt: Date): DockerSandbox {
    const forget = () => {
      if (this.live.get(id) === sandbox) this.live.delete(id);
    };
    const sandbox: DockerSandbox = new DockerSandbox(
      id,
      WORKDIR,
      createdAt,
      this.docker,
      container,
      { dockerHost: this.config.dockerHost },
      this.config.maxOutputBytes,
      async () => {
        forget();
        await this.removeContainer(container);
      },
      () => this.previewUrls,
      forget,
    );
    return sandbox;
  }

  private async removeContainer(container: Dockerode.Container): Promise<void> {
    try {
      await container.remove({ force: true, v: true });
    } catch (e) {
      const err = translateDockerError(e, this.errCtx('removing the sandbox container'));
      // Already gone, or being removed by a concurrent call: either way it ends.
      if (err.code !== 'SANDBOX_GONE' && !/already in progress/i.test(err.message)) throw err;
    }
  }

  private async containers(labels: string[]): Promise<Dockerode.ContainerInfo[]> {
    try {
      return await this.docker.listContainers({ all: true, filters: { label: [`${L.managed}=1`, ...labels] } });
    } catch (e) {
      throw translateDockerError(e, this.errCtx('listing sandbox containers'));
    }
  }

  async connect(id: string): Promise<Sandbox> {
    const s = this.live.get(id);
    if (s?.isAlive()) return s;
    const [info] = await this.containers([`${L.id}=${id}`]);
    if (!info || info.State !== 'running') {
      throw new SandboxError('NOT_FOUND', `no running docker sandbox ${id}`, {
        hint: 'it was removed or its container stopped; a new call creates a fresh one',
      });
    }
    const sandbox = this.adopt(
      id,
      this.docker.getContainer(info.Id),
      new Date(info.Labels[L.created] ?? info.Created * 1000),
    );
    await sandbox.started();
    if (info.Labels[`${L.userPrefix}${LABEL_HANDLE}`]) await sandbox.trackUse(this.lastUse(sandbox.runner));
    await this.startEgress(sandbox, {
      session: info.Labels[`${L.userPrefix}session`],
      workspace: info.Labels[L.workspace],
    });
    return sandbox;
  }

  async workspaceExists(name: string): Promise<boolean> {
    return this.docker
      .getVolume(this.workspaceVolume(name))
      .inspect()
      .then(
        () => true,
        (dockerError: { statusCode?: number }) => {
          if (dockerError.statusCode === 404) return false;
          throw translateDockerError(dockerError, this.errCtx('looking for the workspace volume'));
        },
      );
  }

  async list(labels: Record<string, string>): Promise<SandboxSummary[]> {
    const found = await this.containers(Object.entries(labels).map(([k, v]) => `${L.userPrefix}${k}=${v}`));
    return found.map((containerInfo) => ({
      id: containerInfo.Labels[L.id] ?? containerInfo.Id,
      labels: Object.fromEntries(
        Object.entries(containerInfo.Labels)
          .filter(([k]) => k.startsWith(L.userPrefix))
          .map(([k, v]) => [k.slice(L.userPrefix.length), v]),
      ),
      createdAt: containerInfo.Labels[L.created] ?? new Date(containerInfo.Created * 1000).toISOString(),
      alive: containerInfo.State === 'running',
    }));
  }

  /**
   * Removes containers whose server is gone: same host and state dir (so liveness is knowable from the
   * state dir's server records), owned by an instance that no longer runs.
   */
  async reapOrphans(): Promise<string[]> {
    let found: Dockerode.ContainerInfo[];
    try {
      found = await this.containers([`${L.host}=${this.host}`, `${L.state}=${this.stateLabel}`]);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'orphan reaping skipped: the Docker engine is not reachable');
      return [];
    }
    const live = await this.registry.liveServers();
    const reaped: string[] = [];
    for (const c of found) {
      const owner = c.Labels[L.instance] ?? 'unknown';
      // A stateless handle's container: other replicas may use it; idle reaping (handles.ts) ends it.
      if (live.has(owner) || c.Labels[`${L.userPrefix}${LABEL_HANDLE}`]) continue;
      await this.removeContainer(this.docker.getContainer(c.Id)).then(
        () => {
          reaped.push(c.Labels[L.id] ?? c.Id);
          this.log.info({ sandboxId: c.Labels[L.id], deadServer: owner }, 'reaped orphaned sandbox container');
        },
        (error: Error) =>
          this.log.warn({ err: error.message, container: c.Id }, 'could not remove an orphaned sandbox container'),
      );
    }
    return reaped;
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    this.handleContainers.close();
    await Promise.all(
      [...this.live.values()].map((dockerSandbox) =>
        dockerSandbox
          .kill()
          .catch((error: Error) =>
            this.log.warn({ err: error.message, sandboxId: dockerSandbox.id }, 'removing a sandbox container failed'),
          ),
      ),
    );
    await this.registry.unregister();
    await this.egress?.service.close();
  }
}
