import type { z } from 'zod';
import type { Config } from '../config.js';
import type { LocalSiteStore } from '../deploy/store.js';
import { contentType } from '../deploy/mime.js';
import { SandboxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ToolContext, ToolDefinition } from '../mcp/tool.js';
import { sniff, SNIFF_BYTES } from '../agent/sniff.js';
import type { Sandbox } from '../providers/types.js';
import type { Caller } from '../sessions/handles.js';
import type { SandboxHandles } from '../sessions/sandbox-handles.js';
import type { Session } from '../sessions/session.js';
import type { Telemetry } from '../telemetry.js';
import { fmtMode } from '../tools/files-common.js';
import { inRestTerms } from './errors.js';
import type { sandboxBody } from './schemas.js';

/** What the REST operations need: the handles (the same object sandbox_create uses) and the tools they call. */
export interface SandboxOpsDeps {
  config: Config;
  log: Logger;
  telemetry: Telemetry;
  handles: Pick<SandboxHandles, 'create' | 'session' | 'delete'>;
  tools: ToolDefinition[];
  /** The site store the deploy tools publish to (the one /mcp's tools use). */
  sites: LocalSiteStore;
}

/** A port no preview uses, asked for only to learn how a sandbox's preview hosts are spelled. */
const PROBE_PORT = 65535;
const NEW_SANDBOX = 'create a new one with POST /api/sandboxes';

/**
 * The REST operations, each the same code an MCP call runs: handles from SandboxHandles, exec and
 * listing through the shell_exec and file_list handlers, file bytes through the sandbox files API that
 * file_read and file_write use (so paths resolve inside the sandbox, the file tools' way).
 */
export class SandboxOps {
  private readonly previewHosts = new WeakMap<Sandbox, Promise<string | null>>();
  private readonly tools: Map<string, ToolDefinition>;

  constructor(private readonly deps: SandboxOpsDeps) {
    this.tools = new Map(deps.tools.map((t) => [t.name, t]));
    for (const name of ['shell_exec', 'file_list'])
      if (!this.tools.has(name)) throw new Error(`the REST API needs the ${name} tool`);
  }

  async create(caller: Caller, args: { workspace?: string; template?: string }): Promise<SandboxView> {
    this.checkTemplate(args.template);
    const { handle, session } = await this.deps.handles.create(caller, args.workspace);
    return this.describe(handle, session);
  }

  get(caller: Caller, handle: string): Promise<SandboxView> {
    return this.inSession(caller, handle, async (session) => this.describe(handle, session));
  }

  async delete(caller: Caller, handle: string): Promise<void> {
    try {
      await this.deps.handles.delete(handle, caller);
    } catch (e) {
      throw inRestTerms(e);
    }
  }

  exec(caller: Caller, handle: string, args: Record<string, unknown>, signal: AbortSignal) {
    return this.inSession(caller, handle, (session, callSignal) =>
      this.runTool('shell_exec', session, args, AbortSignal.any([signal, callSignal])),
    );
  }

  list(caller: Caller, handle: string, path: string | undefined, signal: AbortSignal) {
    return this.inSession(caller, handle, (session, callSignal) =>
      this.runTool(
        'file_list',
        session,
        { path, include_hidden: true }, // an API client expects every entry, as ls -a
        AbortSignal.any([signal, callSignal]),
      ),
    );
  }

  /** The whole file, with a content type from its extension, else from its first bytes. */
  read(caller: Caller, handle: string, path: string): Promise<{ data: Buffer; contentType: string }> {
    return this.inSession(caller, handle, async (session) => {
      const { data } = await (await session.sandbox()).files.read(path);
      let type = contentType(path);
      if (type === 'application/octet-stream') {
        const sniffed = sniff(data.subarray(0, SNIFF_BYTES));
        if (sniffed.mimeType) type = sniffed.mimeType;
        else if (sniffed.kind === 'text') type = 'text/plain; charset=utf-8';
      }
      return { data, contentType: type };
    });
  }

  /** Atomic, as file_write: a temporary file beside the target, then rename. */
  write(caller: Caller, handle: string, path: string, data: Buffer) {
    return this.inSession(caller, handle, async (session) => {
      const st = await (await session.sandbox()).files.write(path, data);
      return { path: st.path, size: st.size, mode: fmtMode(st.mode) };
    });
  }

  /** Runs `callback` as a call of the handle's session: its idle clock stops meanwhile, as for an MCP call. */
  private async inSession<T>(
    caller: Caller,
    handle: string,
    callback: (session: Session, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    let session: Session;
    try {
      // Awaited: a handle store shared between replicas may have to look a handle up.
      session = await this.deps.handles.session(handle, caller);
    } catch (e) {
      throw inRestTerms(e);
    }
    session.beginCall();
    try {
      return await callback(session, session.endSignal);
    } catch (e) {
      if (!session.ended) throw e;
      throw new SandboxError('SANDBOX_GONE', 'the sandbox was deleted or expired while this request ran', {
        hint: NEW_SANDBOX,
        cause: e,
      });
    } finally {
      session.endCall();
    }
  }

  private async runTool(
    name: string,
    session: Session,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const tool = this.tools.get(name)!;
    if (tool.kind === 'handles') throw new Error(`${name} is not a sandbox tool`);
    // The result budget spares a model's context; a REST client is a program and gets the whole output
    // (the handler's own caps, SANDBOX_MAX_OUTPUT, still hold), so nothing is spilled to a file.
    const wholeOutput = Math.ceil(this.deps.config.maxOutputBytes / 1024) * 4 + 64;
    const ctx: ToolContext = {
      session,
      sites: this.deps.sites,
      log: session.log.child({ rest: name }),
      config: { ...this.deps.config, resultMaxKb: Math.max(this.deps.config.resultMaxKb, wholeOutput) },
      telemetry: this.deps.telemetry,
      signal,
      wantsProgress: false,
      progress: () => undefined,
      tool: (toolName) => toolName,
      renderNames: (text) => text,
      spill: () => Promise.reject(new SandboxError('INTERNAL', 'REST results are not spilled to files')),
    };
    const result = await tool.handler(ctx, args as never);
    if (result.isError || !result.structuredContent) {
      const text = result.content?.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
      throw new SandboxError('INTERNAL', `${name} failed: ${text}`);
    }
    return result.structuredContent as Record<string, unknown>;
  }

  private async describe(handle: string, session: Session): Promise<SandboxView> {
    const sb = session.sandboxIfStarted;
    return {
      id: handle,
      provider: session.provider.name,
      status: sb ? 'running' : 'stopped',
      created: sb ? sb.createdAt.toISOString() : null,
      workspace: session.workspaceShare?.name ?? null,
      template: serverTemplate(this.deps.config).value,
      previewHost: sb ? await this.previewHost(sb) : null,
    };
  }

  /**
   * How the sandbox's preview hosts are spelled, `{port}` standing for the port, learnt from the
   * provider's own URL for a probe port; null when a port's URL needs more than its host (Daytona's
   * token header) or the provider spells it another way.
   */
  private previewHost(forSandbox: Sandbox): Promise<string | null> {
    let known = this.previewHosts.get(forSandbox);
    if (!known) {
      known = forSandbox.portUrl(PROBE_PORT).then(
        ({ url, headers }) => {
          const host = new URL(url).host;
          return !headers && host.startsWith(`${PROBE_PORT}-`)
            ? `{port}${host.slice(String(PROBE_PORT).length)}`
            : null;
        },
        (error: Error) => {
          this.deps.log.debug({ err: error.message }, 'no preview host for this sandbox');
          return null;
        },
      );
      this.previewHosts.set(forSandbox, known);
    }
    return known;
  }

  /** One server starts every sandbox from one template: a request for another is refused, not ignored. */
  private checkTemplate(asked: string | undefined): void {
    const { value, setting } = serverTemplate(this.deps.config);
    if (asked === undefined || asked === value) return;
    if (!setting)
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `the ${this.deps.config.provider} provider has no templates (asked for ${JSON.stringify(asked)})`,
        { hint: 'omit template' },
      );
    const current = value === null ? `the default (${setting} unset)` : `${JSON.stringify(value)} (${setting})`;
    throw new SandboxError(
      'INVALID_ARGUMENT',
      `this server starts every sandbox from ${current}, not ${JSON.stringify(asked)}`,
      { hint: `omit template, or send the request to a server started with ${setting} set to the one you want` },
    );
  }
}

export type SandboxView = z.output<typeof sandboxBody>;

/** The template sandboxes of this server start from, and the setting that chooses it. */
function serverTemplate(config: Config): { value: string | null; setting?: string } {
  switch (config.provider) {
    case 'e2b':
      return { value: config.e2bTemplate, setting: 'E2B_TEMPLATE' };
    case 'daytona':
      return { value: config.daytonaSnapshot ?? null, setting: 'DAYTONA_SNAPSHOT' };
    case 'docker':
      return { value: config.dockerImage, setting: 'SANDBOX_DOCKER_IMAGE' };
    default:
      return { value: null };
  }
}
