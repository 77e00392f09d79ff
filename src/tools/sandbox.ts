import { z } from 'zod';
import { WORKSPACE_NAME, WORKSPACE_NAME_RULE } from '../config.js';
import { defineTool, ok } from '../mcp/tool.js';

/** sandbox_create's workspace (the REST API's POST /api/sandboxes takes the same). */
export const workspaceArg = z
  .string()
  .regex(WORKSPACE_NAME, `a workspace name is ${WORKSPACE_NAME_RULE}`)
  .optional()
  .describe('Named workspace, e.g. "my-project"; omit for a new sandbox');

export const sandboxTools = [
  defineTool({
    name: 'sandbox_info',
    title: 'Sandbox info',
    description: 'Describe the sandbox: provider, isolation, network access, limits, idle expiry.',
    inputSchema: {},
    outputSchema: {
      provider: z.string(),
      providerReason: z.string(),
      id: z.string(),
      workdir: z.string(),
      isolation: z.string(),
      network: z.string(),
      limits: z.record(z.string(), z.union([z.string(), z.number()])),
      createdAt: z.string(),
      idleTimeoutS: z.number(),
      expiresAt: z.string().optional(),
      workspace: z
        .object({ name: z.string(), sessions: z.number(), ttlS: z.number() })
        .optional()
        .describe('The named workspace this session shares; absent: a sandbox of its own'),
      egress: z
        .object({
          proxy: z.string(),
          allow: z.array(z.string()),
          bytesUp: z.number(),
          bytesDown: z.number(),
          allowed: z.number(),
          refused: z.number(),
          openConnections: z.number(),
          problem: z.string().optional().describe('Why this sandbox cannot reach the proxy, when it cannot'),
        })
        .optional()
        .describe(
          "SANDBOX_NETWORK=egress: the proxy commands use, the host names it allows, and this sandbox's traffic through it; absent otherwise",
        ),
      warnings: z.array(z.string()),
    },
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    async handler(ctx) {
      const sb = await ctx.session.sandbox();
      const d = ctx.session.provider.describe();
      const ws = ctx.session.workspaceShare;
      // A workspace's sandbox outlives this session's idleness by the workspace TTL.
      const lifetimeS = ctx.config.idleTimeoutS + (ws ? ctx.config.workspaceTtlS : 0);
      const info = {
        provider: d.provider,
        providerReason: ctx.config.providerReason,
        id: sb.id,
        workdir: sb.workdir,
        isolation: d.isolation,
        network: d.network,
        limits: d.limits,
        createdAt: sb.createdAt.toISOString(),
        idleTimeoutS: ctx.config.idleTimeoutS,
        // While this call runs the idle clock is stopped; it restarts when the call returns.
        expiresAt: new Date(Date.now() + lifetimeS * 1000).toISOString(),
        workspace: ws ? { ...ws, ttlS: ctx.config.workspaceTtlS } : null,
        egress: sb.egress?.() ?? null,
        warnings: d.warnings,
      };
      const text = [
        `Sandbox ${info.id} (${info.provider}: ${info.providerReason})`,
        `workdir: ${info.workdir}`,
        `isolation: ${info.isolation}`,
        `network: ${info.network}`,
        ...(info.egress
          ? [
              `egress: proxy ${info.egress.proxy}; ${info.egress.bytesUp} bytes up, ${info.egress.bytesDown} down; ${info.egress.allowed} allowed, ${info.egress.refused} refused; ${info.egress.openConnections} open${info.egress.problem ? `; PROBLEM: ${info.egress.problem}` : ''}`,
            ]
          : []),
        `limits: ${Object.entries(info.limits)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
        info.workspace
          ? `workspace "${info.workspace.name}": shared by ${info.workspace.sessions} session(s); kept ${info.workspace.ttlS} s after the last one leaves (at ${info.expiresAt} if unused)`
          : `expires after ${info.idleTimeoutS} s idle (at ${info.expiresAt} if unused)`,
        ...info.warnings.map((w) => `warning: ${w}`),
      ].join('\n');
      return ok(info, text);
    },
  }),
  defineTool({
    kind: 'handles',
    name: 'sandbox_create',
    title: 'Create a sandbox',
    description:
      "Create a sandbox; returns a handle to pass as `sandbox` to later calls. Use it when a call reaches no sandbox. workspace: a named workspace's shared sandbox.",
    inputSchema: {
      workspace: workspaceArg,
    },
    outputSchema: {
      sandbox: z.string().describe('The handle: pass it as `sandbox` to later calls'),
      workspace: z.string().optional().describe('The named workspace the handle reaches; absent: a sandbox of its own'),
      idleTimeoutS: z.number().describe('The handle expires after this many seconds without a call'),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(ctx, args) {
      const { handle, session } = await ctx.handles.create(args.workspace);
      const workspace = session.workspaceShare?.name ?? null;
      const where = workspace
        ? `the sandbox of workspace "${workspace}" (its files are kept when the handle expires)`
        : 'a new sandbox of its own';
      return ok(
        { sandbox: handle, workspace, idleTimeoutS: ctx.config.idleTimeoutS },
        `Sandbox handle: ${handle}\nIt reaches ${where}. Pass sandbox: "${handle}" to every later call that should run there. It expires after ${ctx.config.idleTimeoutS} s without a call; ${ctx.tool('sandbox_delete')} ends it now.`,
      );
    },
  }),
  defineTool({
    kind: 'handles',
    name: 'sandbox_delete',
    title: 'Delete a sandbox',
    description: 'Delete the sandbox a handle reaches, with its files and processes.',
    inputSchema: {
      sandbox: z.string().min(1).max(512).describe('Handle from sandbox_create'),
    },
    outputSchema: {
      deleted: z.boolean(),
      workspace: z
        .string()
        .optional()
        .describe(
          'The named workspace the handle reached, whose sandbox and files live on; absent when the sandbox itself was deleted',
        ),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(ctx, args) {
      const { workspace } = await ctx.handles.delete(args.sandbox);
      return ok(
        { deleted: true, workspace: workspace ?? null },
        workspace
          ? `Handle deleted. Workspace "${workspace}" keeps its sandbox and files for other handles and sessions (until SANDBOX_WORKSPACE_TTL after the last one).`
          : 'Sandbox deleted with its files and processes; the handle no longer works.',
      );
    },
  }),
];
