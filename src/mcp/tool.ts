import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/server';
import type { z, ZodRawShape } from 'zod';
import type { Config } from '../config.js';
import type { LocalSiteStore } from '../deploy/store.js';
import type { Logger } from '../logger.js';
import type { Session } from '../sessions/session.js';
import type { Telemetry } from '../telemetry.js';

/** What every handler sees: a logger, the config. Never an SDK. */
interface BaseToolContext {
  log: Logger;
  config: Config;
  telemetry: Telemetry;
  /** Aborted when the client cancels the call. */
  signal: AbortSignal;
  /** The client asked for progress notifications on this call (a progressToken was sent). */
  wantsProgress: boolean;
  /** Sends a progress notification when the client asked for them; a no-op otherwise. */
  progress(p: { progress: number; total?: number; message?: string }): void;
  /** The name a tool is served under (SANDBOX_TOOL_PREFIX): texts that name a tool use it. */
  tool(name: string): string;
  /** A text written without a context (an event's note) with every tool it names as served. */
  renderNames(text: string): string;
}

/** What a sandbox tool's handler sees besides: the session its call reached (and through it the sandbox). */
export interface ToolContext extends BaseToolContext {
  session: Session;
  /** The server's site store (one per server, built in serve.ts): what the deploy tools publish to. */
  sites: LocalSiteStore;
  /**
   * Writes the whole of an output too big for a result to a file in the sandbox and returns its path,
   * which the result gives instead (see tool-result.ts).
   */
  spill(label: string, content: string): Promise<string>;
}

/** The handles of the caller (its bearer token and connection), for the tools that make and delete them. */
export interface HandleService {
  create(workspace?: string): Promise<{ handle: string; session: Session }>;
  delete(handle: string): Promise<{ workspace?: string }>;
}

/** What sandbox_create and sandbox_delete see: the caller's handles, and no sandbox. */
export interface HandleToolContext extends BaseToolContext {
  handles: HandleService;
}

export type ToolResult = CallToolResult;

interface ToolShape<In extends ZodRawShape, Out extends ZodRawShape> {
  name: string;
  title: string;
  description: string;
  inputSchema: In;
  outputSchema?: Out;
  annotations: ToolAnnotations;
  /**
   * Runs on the arguments before validation: accepts spellings of earlier versions that the served
   * schema no longer advertises (an `env` object where it now lists KEY=VALUE strings).
   */
  prepareInput?(args: Record<string, unknown>): Record<string, unknown>;
}

/**
 * A tool is a name, schemas, annotations and a handler; the MCP plumbing does the rest. A sandbox tool
 * (the default kind) also takes the optional `sandbox` handle, added by the plumbing, which finds the
 * session of each call; a handles tool manages handles and reaches no sandbox.
 */
export type ToolDefinition<In extends ZodRawShape = ZodRawShape, Out extends ZodRawShape = ZodRawShape> = ToolShape<
  In,
  Out
> &
  (
    | { kind?: 'sandbox'; handler(ctx: ToolContext, args: z.output<z.ZodObject<In>>): Promise<ToolResult> }
    | { kind: 'handles'; handler(ctx: HandleToolContext, args: z.output<z.ZodObject<In>>): Promise<ToolResult> }
  );

/** Keeps each definition's own types while collecting them in one list. */
export function defineTool<In extends ZodRawShape, Out extends ZodRawShape>(
  toolDefinition: ToolDefinition<In, Out>,
): ToolDefinition {
  return toolDefinition as unknown as ToolDefinition;
}

/** A successful result: structured data for programs, a short text rendering for the model. */
export function ok(structured: Record<string, unknown>, text: string): ToolResult {
  return { structuredContent: structured, content: [{ type: 'text', text }] };
}

export function fail(text: string): ToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}
