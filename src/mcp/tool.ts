import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/server';
import type { z, ZodRawShape } from 'zod';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Session } from '../sessions/session.js';
import type { Telemetry } from '../telemetry.js';

/** What a handler sees: its session (and through it the sandbox), a logger, the config. Never an SDK. */
export interface ToolContext {
  session: Session;
  log: Logger;
  config: Config;
  telemetry: Telemetry;
  /** Aborted when the client cancels the call. */
  signal: AbortSignal;
  /** The client asked for progress notifications on this call (a progressToken was sent). */
  wantsProgress: boolean;
  /** Sends a progress notification when the client asked for them; a no-op otherwise. */
  progress(p: { progress: number; total?: number; message?: string }): void;
}

export type ToolResult = CallToolResult;

/** A tool is a name, schemas, annotations and a handler; the MCP plumbing does the rest. */
export interface ToolDefinition<In extends ZodRawShape = ZodRawShape, Out extends ZodRawShape = ZodRawShape> {
  name: string;
  title: string;
  description: string;
  inputSchema: In;
  outputSchema?: Out;
  annotations: ToolAnnotations;
  handler(ctx: ToolContext, args: z.output<z.ZodObject<In>>): Promise<ToolResult>;
}

/** Keeps each definition's own types while collecting them in one list. */
export function defineTool<In extends ZodRawShape, Out extends ZodRawShape>(t: ToolDefinition<In, Out>): ToolDefinition {
  return t as unknown as ToolDefinition;
}

/** A successful result: structured data for programs, a short text rendering for the model. */
export function ok(structured: Record<string, unknown>, text: string): ToolResult {
  return { structuredContent: structured, content: [{ type: 'text', text }] };
}

export function fail(text: string): ToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}
