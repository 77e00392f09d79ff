import path from 'node:path';
import { z } from 'zod';
import { SandboxError } from '../errors.js';
import { defineTool, fail, ok, type ToolContext } from '../mcp/tool.js';
import { budgeted } from '../mcp/tool-result.js';
import type { ProcessInfo, Sandbox } from '../providers/types.js';
import { portAnswers, registryReachable, waitForPort } from '../webdev/probe.js';
import { getTemplate, listTemplates, PROJECT_META, type ProjectSpec } from '../webdev/templates.js';

const posix = path.posix;
const nameSchema = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    'name: 1-63 lowercase letters, digits and hyphens (a DNS label), e.g. "my-app"',
  )
  .describe('Project folder in /workspace, e.g. "my-app"');
const portSchema = z.number().int().min(1, 'port must be 1-65535').max(65535, 'port must be 1-65535');
const urlShape = { url: z.string(), headers: z.record(z.string(), z.string()).optional() };
const EXPOSE_WAIT_MS = 3000;

const processName = (name: string) => `webdev-${name}`;
const projectDir = (sb: Sandbox, name: string) => posix.join(sb.workdir, name);

async function readMeta(sandbox: Sandbox, name: string): Promise<Partial<ProjectSpec> & { lastPort?: number }> {
  try {
    return JSON.parse(
      (await sandbox.files.read(posix.join(projectDir(sandbox, name), PROJECT_META))).data.toString('utf8'),
    );
  } catch {
    return {};
  }
}

async function writeMeta(sandbox: Sandbox, name: string, meta: object): Promise<void> {
  await sandbox.files.write(
    posix.join(projectDir(sandbox, name), PROJECT_META),
    Buffer.from(`${JSON.stringify(meta, null, 2)}\n`),
  );
}

async function requireProject(sandbox: Sandbox, name: string): Promise<void> {
  const st = await sandbox.files.stat(projectDir(sandbox, name)).catch(() => undefined);
  if (st?.type !== 'directory')
    throw new SandboxError('NOT_FOUND', `no project "${name}" (no folder ${projectDir(sandbox, name)})`, {
      hint: 'create it with webdev_create, or see webdev_list',
    });
}

/** The newest dev server process of a project, running or not. */
async function serverOf(sandbox: Sandbox, name: string): Promise<ProcessInfo | undefined> {
  return (await sandbox.processes.list()).filter((p) => p.name === processName(name)).pop();
}

async function tail(sandbox: Sandbox, processId: string, lines: number, maxBytes: number): Promise<string> {
  const r = await sandbox.processes.read(processId, { maxBytes });
  return r.output
    .split('\n')
    .slice(-lines - 1)
    .join('\n')
    .trimEnd();
}

async function urlFor(sandbox: Sandbox, port: number): Promise<{ url: string; headers?: Record<string, string> }> {
  const u = await sandbox.portUrl(port);
  return u.headers && Object.keys(u.headers).length ? { url: u.url, headers: u.headers } : { url: u.url };
}

/**
 * Progress every few seconds while `work` runs: installs, builds and slow dev servers outlast the
 * 60 s request timeout many clients use, which they reset on progress.
 */
async function heartbeat<T>(ctx: ToolContext, message: string, totalS: number, work: Promise<T>): Promise<T> {
  if (!ctx.wantsProgress) return work;
  const started = Date.now();
  const timer = setInterval(
    () => ctx.progress({ progress: Math.round((Date.now() - started) / 1000), total: totalS, message }),
    2000,
  );
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

async function stopServer(sandbox: Sandbox, processInfo: ProcessInfo): Promise<ProcessInfo> {
  await sandbox.processes.kill(processInfo.processId, 'SIGTERM');
  let r = await sandbox.processes.read(processInfo.processId, { waitMs: 3000, until: '(?!)', maxBytes: 0 });
  if (r.running) {
    await sandbox.processes.kill(processInfo.processId, 'SIGKILL');
    r = await sandbox.processes.read(processInfo.processId, { waitMs: 3000, until: '(?!)', maxBytes: 0 });
  }
  return { ...processInfo, running: r.running, exitCode: r.exitCode, signal: r.signal };
}

async function startHandler(ctx: ToolContext, args: { name: string; port?: number; command?: string }) {
  const sb = await ctx.session.sandbox();
  await requireProject(sb, args.name);
  const meta = await readMeta(sb, args.name);
  const command = args.command ?? meta.dev;
  if (!command)
    throw new SandboxError(
      'INVALID_ARGUMENT',
      `project "${args.name}" was not made by webdev_create, so its dev command is unknown`,
      { hint: 'pass command, e.g. "npm run dev -- --port $PORT" (PORT is set to the port)' },
    );
  const port = args.port ?? meta.port ?? 3000;
  const running = await serverOf(sb, args.name);
  if (running?.running) {
    const u = await urlFor(sb, meta.lastPort ?? port);
    return ok(
      { name: args.name, port: meta.lastPort ?? port, processId: running.processId, alreadyRunning: true, ...u },
      `${args.name} is already running (${running.processId}) at ${u.url}\nStop it with ${ctx.tool('webdev_stop')} to restart it with other settings.`,
    );
  }
  if (await portAnswers(sb, port)) {
    throw new SandboxError('ALREADY_EXISTS', `port ${port} is already in use inside the sandbox`, {
      hint: 'pass another port, or stop what listens there (shell_list / webdev_list)',
    });
  }
  // PREVIEW_URL tells the dev server the address it is reached at (Vite's allowedHosts, absolute links).
  const preview = await sb.portUrl(port).then(
    (u) => u.url,
    () => undefined,
  );
  const env: Record<string, string> = { PORT: String(port), ...(preview ? { PREVIEW_URL: preview } : {}) };
  const p = await sb.processes.spawn(command, { cwd: projectDir(sb, args.name), env, name: processName(args.name) });
  const timeoutMs = ctx.config.webdevStartTimeoutS * 1000;
  let exited = false;
  const up = await heartbeat(
    ctx,
    `waiting for port ${port}`,
    ctx.config.webdevStartTimeoutS,
    waitForPort(sb, port, timeoutMs, async () => {
      exited = !(await sb.processes.read(p.processId, { maxBytes: 0 })).running;
      return exited || ctx.signal.aborted;
    }),
  );
  if (!up) {
    const logs = await tail(sb, p.processId, 30, ctx.config.maxOutputBytes);
    const after = exited ? await sb.processes.read(p.processId, { maxBytes: 0 }) : await stopServer(sb, p);
    const why = exited
      ? `exited (${after.signal ?? `code ${after.exitCode}`}) before port ${port} answered`
      : `port ${port} did not answer within ${ctx.config.webdevStartTimeoutS} s, so the server was stopped`;
    return fail(
      `webdev_start failed: ${args.name} ${why}.\nLast log lines:\n${logs || '(no output)'}\nFix the error, check that the server listens on $PORT (${port}), then call webdev_start again.`,
    );
  }
  await writeMeta(sb, args.name, { ...meta, lastPort: port });
  const u = await urlFor(sb, port);
  const hdr = u.headers ? `\nSend these headers with each request: ${JSON.stringify(u.headers)}` : '';
  return ok(
    { name: args.name, port, processId: p.processId, alreadyRunning: false, ...u },
    `${args.name} is running (${p.processId}) on port ${port}.\nPreview: ${u.url}${hdr}\nSee its output with ${ctx.tool('webdev_logs')}; stop it with ${ctx.tool('webdev_stop')}.`,
  );
}

/** Whether `dir` holds an index.html (what deploy_site serves as the site's root). */
async function isSite(sandbox: Sandbox, dir: string): Promise<boolean> {
  try {
    return (await sandbox.files.stat(posix.join(dir, 'index.html'))).type === 'file';
  } catch {
    return false;
  }
}

export const webdevTools = [
  defineTool({
    name: 'webdev_templates',
    title: 'List web project templates',
    description: 'List the templates webdev_create can scaffold.',
    inputSchema: {},
    outputSchema: {
      templates: z.array(
        z.object({ name: z.string(), description: z.string(), port: z.number(), needsInstall: z.boolean() }),
      ),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler() {
      const templates = (await listTemplates()).map((projectSpec) => ({
        name: projectSpec.template,
        description: projectSpec.description,
        port: projectSpec.port,
        needsInstall: projectSpec.install,
      }));
      return ok(
        { templates },
        templates
          .map(
            (t) =>
              `${t.name}: ${t.description} (dev port ${t.port}${t.needsInstall ? '; needs npm install with network' : ''})`,
          )
          .join('\n'),
      );
    },
  }),

  defineTool({
    name: 'webdev_create',
    title: 'Create a web project',
    description: 'Scaffold a web project from a template into /workspace/<name>.',
    inputSchema: {
      name: nameSchema,
      template: z.string().min(1).describe('static, node-server or vite-react'),
    },
    outputSchema: {
      name: z.string(),
      template: z.string(),
      path: z.string(),
      files: z.array(z.string()),
      installed: z.boolean(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(ctx, args) {
      const { spec, files } = await getTemplate(args.template);
      const sb = await ctx.session.sandbox();
      const dir = projectDir(sb, args.name);
      if (await sb.files.stat(dir).catch(() => undefined))
        throw new SandboxError('ALREADY_EXISTS', `${dir} already exists`, {
          hint: 'pick another name, or delete the folder first',
        });
      if (spec.install) {
        const net = await registryReachable(sb);
        if (!net.ok) {
          return fail(
            `webdev_create failed: the ${args.template} template needs "npm install" from the npm registry, and this sandbox cannot reach it (${net.detail || 'no network'}). ` +
              'Local sandboxes have no network by default (sandbox_info shows "network"). Ask the operator to restart sandbox-mcp with SANDBOX_NETWORK=egress (package registries only, through an allowlisting proxy), or use the "static" or "node-server" template, which need no install. Nothing was written.',
          );
        }
      }
      for (const f of files) await sb.files.write(posix.join(dir, f.path), f.data);
      await writeMeta(sb, args.name, spec);
      let installed = false;
      if (spec.install) {
        const installS = Math.min(600, ctx.config.maxExecTimeoutS);
        const r = await heartbeat(
          ctx,
          'npm install',
          installS,
          sb.exec('npm install --no-audit --no-fund', { cwd: dir, timeoutMs: installS * 1000, signal: ctx.signal }),
        );
        if (r.exitCode !== 0) {
          await sb.files.remove(dir, { recursive: true }).catch(() => undefined);
          const out = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-20).join('\n');
          return fail(
            `webdev_create failed: npm install ${r.timedOut ? 'timed out' : `exited with ${r.exitCode}`}; the project folder was removed.\n${out}`,
          );
        }
        installed = true;
      }
      const list = files.map((f) => f.path);
      return ok(
        { name: args.name, template: args.template, path: dir, files: list, installed },
        `Created ${args.template} project "${args.name}" in ${dir}${installed ? ' (dependencies installed)' : ''}:\n${list.join('\n')}\nNext: ${ctx.tool('webdev_start')} {"name": "${args.name}"} for a preview URL.`,
      );
    },
  }),

  defineTool({
    name: 'webdev_start',
    title: 'Start a dev server',
    description: "Start a project's dev server ($PORT set), wait until it answers, and return its preview URL.",
    inputSchema: {
      name: nameSchema,
      port: portSchema.optional().describe("Default: the template's"),
      command: z.string().min(1).max(10_000).optional().describe("Instead of the template's; $PORT is set"),
    },
    outputSchema: {
      name: z.string(),
      port: z.number(),
      processId: z.string(),
      alreadyRunning: z.boolean(),
      ...urlShape,
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: startHandler,
  }),

  defineTool({
    name: 'webdev_stop',
    title: 'Stop a dev server',
    description: "Stop a project's dev server and its children.",
    inputSchema: { name: nameSchema },
    outputSchema: { name: z.string(), stopped: z.boolean(), processId: z.string().optional() },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const p = await serverOf(sb, args.name);
      if (!p?.running)
        return ok(
          { name: args.name, stopped: false, processId: p?.processId ?? null },
          `${args.name} has no running dev server.`,
        );
      const after = await stopServer(sb, p);
      if (after.running)
        return fail(
          `webdev_stop failed: ${p.processId} is still running after SIGKILL; try shell_kill {"processId": "${p.processId}", "signal": "SIGKILL"}.`,
        );
      const port = (await readMeta(sb, args.name)).lastPort;
      // A child that left the process group (setsid, daemons) survives the group kill and keeps the port.
      let lingering = port !== undefined && (await portAnswers(sb, port));
      for (let i = 0; lingering && i < 4; i++) {
        await new Promise((r) => setTimeout(r, 250));
        lingering = await portAnswers(sb, port!);
      }
      const warn = lingering
        ? `\nWarning: port ${port} still answers, so its preview still works: a process the server started left its process group (e.g. with setsid) and still listens. Find it with ${ctx.tool('shell_exec')} "ps -ef" and end it with kill, before ${ctx.tool('webdev_start')} uses that port again.`
        : '';
      return ok(
        { name: args.name, stopped: true, processId: p.processId },
        `Stopped ${args.name} (${p.processId}).${warn}`,
      );
    },
  }),

  defineTool({
    name: 'webdev_logs',
    title: 'Dev server logs',
    description: "The last lines of a project's dev server output.",
    inputSchema: {
      name: nameSchema,
      tail: z.number().int().min(1).max(10_000).optional().describe('Lines (default 100)'),
    },
    outputSchema: {
      name: z.string(),
      processId: z.string(),
      running: z.boolean(),
      logs: z.string().optional().describe('Absent when the result would pass the result budget: see the text'),
      logsPath: z
        .string()
        .optional()
        .describe('File in the sandbox with all the lines asked for, when the text shows only their head and tail'),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      const p = await serverOf(sb, args.name);
      if (!p)
        throw new SandboxError('NOT_FOUND', `${args.name} has no dev server (never started in this sandbox)`, {
          hint: 'start it with webdev_start',
        });
      const logs = await tail(sb, p.processId, args.tail ?? 100, ctx.config.maxOutputBytes);
      return budgeted(
        ctx,
        { name: args.name, processId: p.processId, running: p.running },
        { logs },
        (out) =>
          `${args.name} (${p.processId}, ${p.running ? 'running' : `exited ${p.signal ?? p.exitCode}`}):\n${out.logs || '(no output yet)'}`,
      );
    },
  }),

  defineTool({
    name: 'webdev_build',
    title: 'Build a web project',
    description: "Run a project's production build; returns exit code, output folder, last log lines.",
    inputSchema: { name: nameSchema },
    outputSchema: {
      name: z.string(),
      exitCode: z.number().optional(),
      outputDir: z.string().optional(),
      durationMs: z.number(),
      logTail: z.string(),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      await requireProject(sb, args.name);
      const meta = await readMeta(sb, args.name);
      const command = meta.build ?? 'npm run build';
      const buildS = Math.min(600, ctx.config.maxExecTimeoutS);
      const r = await heartbeat(
        ctx,
        `building ${args.name}`,
        buildS,
        sb.exec(command, { cwd: projectDir(sb, args.name), timeoutMs: buildS * 1000, signal: ctx.signal }),
      );
      const logTail = `${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`.trim().split('\n').slice(-40).join('\n');
      const outputDir = r.exitCode === 0 ? posix.join(projectDir(sb, args.name), meta.outDir ?? 'dist') : null;
      // Only a folder with an index.html is a site: a node-server build has none to publish.
      const site = outputDir ? await isSite(sb, outputDir) : false;
      const status = r.timedOut
        ? 'timed out'
        : r.exitCode === 0
          ? 'succeeded'
          : `FAILED (exit ${r.exitCode ?? r.signal})`;
      return ok(
        { name: args.name, exitCode: r.exitCode, outputDir, durationMs: r.durationMs, logTail },
        `Build of ${args.name} ${status} in ${Math.round(r.durationMs)} ms${outputDir ? `; output in ${outputDir}` : ''}${site ? `\nPublish it with ${ctx.tool('deploy_site')} {"path": "${outputDir}", "name": "${args.name}"}` : outputDir ? `\n${outputDir} has no index.html, so it is not a static site to publish with ${ctx.tool('deploy_site')}: run it with ${ctx.tool('webdev_start')} instead` : ''}\n${logTail}`,
      );
    },
  }),

  defineTool({
    name: 'webdev_list',
    title: 'List web projects',
    description: 'List web projects, whether their dev server runs, their preview URLs.',
    inputSchema: {},
    outputSchema: {
      projects: z.array(
        z.object({
          name: z.string(),
          template: z.string().optional(),
          path: z.string(),
          running: z.boolean(),
          port: z.number().optional(),
          url: z.string().optional(),
          processId: z.string().optional(),
        }),
      ),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const sb = await ctx.session.sandbox();
      const procs = await sb.processes.list();
      const names = new Set<string>();
      for (const e of await sb.files.list(sb.workdir)) {
        if (
          e.type === 'directory' &&
          (await sb.files.stat(posix.join(sb.workdir, e.name, PROJECT_META)).catch(() => undefined))
        )
          names.add(e.name);
      }
      for (const p of procs) if (p.name?.startsWith('webdev-')) names.add(p.name.slice('webdev-'.length));
      const projects = [];
      for (const name of [...names].sort()) {
        const meta = await readMeta(sb, name);
        const p = procs.filter((q) => q.name === processName(name)).pop();
        const running = !!p?.running;
        const port = running ? (meta.lastPort ?? meta.port ?? null) : null;
        projects.push({
          name,
          template: meta.template ?? null,
          path: projectDir(sb, name),
          running,
          port,
          url: running && port ? (await urlFor(sb, port)).url : null,
          processId: p?.processId ?? null,
        });
      }
      const text = projects.length
        ? projects
            .map(
              (p) =>
                `${p.name} (${p.template ?? 'custom'}): ${p.running ? `running on ${p.port}, ${p.url}` : 'stopped'}`,
            )
            .join('\n')
        : `No web projects yet. Create one with ${ctx.tool('webdev_create')}.`;
      return ok({ projects }, text);
    },
  }),

  defineTool({
    name: 'expose_port',
    title: 'Preview URL for a port',
    description: 'A URL reaching a port of the sandbox from outside (the server must listen).',
    inputSchema: { port: portSchema.describe('Port in the sandbox') },
    outputSchema: { port: z.number(), ...urlShape },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(ctx, args) {
      const sb = await ctx.session.sandbox();
      if (!(await waitForPort(sb, args.port, EXPOSE_WAIT_MS))) {
        throw new SandboxError(
          'NOT_FOUND',
          `nothing is listening on port ${args.port} inside the sandbox (waited ${EXPOSE_WAIT_MS / 1000} s)`,
          { hint: 'start the server first (shell_start or webdev_start) and make sure it listens on that port' },
        );
      }
      const u = await urlFor(sb, args.port);
      return ok(
        { port: args.port, ...u },
        `Port ${args.port}: ${u.url}${u.headers ? `\nSend these headers: ${JSON.stringify(u.headers)}` : ''}`,
      );
    },
  }),
];
