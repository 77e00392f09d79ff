import { z } from 'zod';
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { ToolDefinition } from './tool.js';
import type { ToolNamer } from './tool-names.js';

/** The one sentence that teaches a model the handle, on every tool that works in a sandbox. */
const HANDLE_ARG = z.string().min(1).max(512).describe('From sandbox_create').optional();

type Json = Record<string, unknown>;

/**
 * Unknown argument names are refused, not dropped: `timeout` for `timeout_s` would otherwise run with
 * the default and look like it worked. The messages list the names the tool takes.
 */
function strictInput(servedName: string, own: z.ZodRawShape, withHandle: boolean) {
  const known = Object.keys(own);
  const takes = `${servedName} takes ${known.length ? known.join(', ') : 'no arguments'}${withHandle ? ' (and the optional sandbox handle)' : ''}`;
  const schema = z.strictObject(withHandle ? { ...own, sandbox: HANDLE_ARG } : own, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown argument${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}: ${takes}`
        : undefined,
  });
  // Applies wherever a schema has no message of its own: "expected string, received undefined" says
  // nothing a model can act on.
  const missing = (iss: { code: string; input?: unknown; path?: PropertyKey[] }) =>
    iss.code === 'invalid_type' && iss.input === undefined
      ? `missing required argument${iss.path?.length ? '' : 's'}: ${takes}`
      : undefined;
  return { schema, missing };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * What every client framework accepts: the SDK stamps `$schema` (draft 2020-12) on every schema,
 * which some validators refuse and every model pays for; zod writes `propertyNames: {type: string}`
 * for records (always true of JSON keys) and a `type` array for unions of primitives, which
 * single-type dialects (Gemini's) reject. Limits no model reaches (a command of a MiB, a name of
 * 512 characters, "not empty") are checked on every call but not advertised: every model pays for
 * each listed character on every turn. Everything else is left as written: the tests hold the
 * schemas to the portable subset.
 */
export function portable(schema: Json, render: (text: string) => string = (t) => t): Json {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    const out: Json = {};
    for (const [key, value] of Object.entries(node as Json)) {
      if (key === '$schema') continue;
      if (key === 'propertyNames' && JSON.stringify(value) === '{"type":"string"}') continue;
      if ((key === 'minLength' && value === 1) || (key === 'maxLength' && Number(value) >= 256)) continue;
      // zod's .int() bounds: the safe integers, which say nothing.
      if ((key === 'maximum' || key === 'minimum') && Math.abs(Number(value)) === Number.MAX_SAFE_INTEGER) continue;
      if (key === 'description' && typeof value === 'string') {
        out[key] = render(value);
        continue;
      }
      if (key === 'properties' || key === '$defs') {
        out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, walk(v)]));
      } else out[key] = walk(value);
    }
    if (Array.isArray(out.type)) {
      const types = out.type as string[];
      delete out.type;
      out.anyOf = types.map((type) => ({ type }));
    }
    return out;
  };
  return walk(schema) as Json;
}

/**
 * Models often send numbers and booleans as strings ("timeout_s": "30"). Where the schema wants a
 * number or a boolean and the string says one plainly, it is read as that; anything else is left for
 * validation to refuse.
 */
export function coerce(value: unknown, schema: Json | undefined): unknown {
  if (!schema) return value;
  const type = schema.type;
  if (typeof value === 'string') {
    const text = value.trim();
    if ((type === 'number' || type === 'integer') && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    if (type === 'boolean' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => coerce(v, schema.items as Json | undefined));
  if (value && typeof value === 'object' && schema.properties) {
    const props = schema.properties as Record<string, Json>;
    return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, coerce(v, props[k])]));
  }
  return value;
}

type ObjectSchema = StandardSchemaWithJSON<Json, Json>;

/**
 * A zod object as the SDK consumes it, built once per process (a stateless request has an McpServer of
 * its own, and converting on every call was a quarter of a millisecond of it): its JSON Schema made
 * portable and frozen (shared by every McpServer: the SDK copies what it adjusts), and for inputs a
 * validation that first coerces plain strings and lets the tool accept spellings its schema does not
 * advertise (`prepare`).
 */
function converted(
  schema: z.ZodObject,
  render: (text: string) => string,
  input?: { missing: (iss: never) => string | undefined; prepare?: (args: Json) => Json },
): ObjectSchema {
  const std = schema['~standard'];
  const memo = new Map<string, Json>();
  const json = (io: 'input' | 'output') => (options: Parameters<typeof std.jsonSchema.input>[0]) => {
    const key = `${io} ${options.target}`;
    let out = memo.get(key);
    if (!out) memo.set(key, (out = deepFreeze(portable(std.jsonSchema[io](options), render))));
    return out;
  };
  const validate: typeof std.validate = !input
    ? std.validate
    : (value) => {
        const served = json('input')({ target: 'draft-2020-12' });
        let args = coerce(value, served);
        if (input.prepare && args && typeof args === 'object' && !Array.isArray(args))
          args = input.prepare(args as Json);
        const r = schema.safeParse(args, { error: input.missing as never });
        return r.success ? { value: r.data } : { issues: r.error.issues };
      };
  return {
    '~standard': { ...std, validate, jsonSchema: { input: json('input'), output: json('output') } },
  } as ObjectSchema;
}

export interface ServedSchemas {
  input: ObjectSchema;
  output?: ObjectSchema;
}

const schemas = new WeakMap<ToolDefinition, Map<string, ServedSchemas>>();

/** A tool's schemas as served (under its served name, tools named in descriptions too), built once per process. */
export function schemasOf(tool: ToolDefinition, names: ToolNamer): ServedSchemas {
  let byPrefix = schemas.get(tool);
  if (!byPrefix) schemas.set(tool, (byPrefix = new Map()));
  let s = byPrefix.get(names.prefix);
  if (!s) {
    // The handle tools take handles as their own arguments; every other tool may name its sandbox.
    const { schema, missing } = strictInput(names.name(tool.name), tool.inputSchema, tool.kind !== 'handles');
    s = {
      input: converted(schema, names.render, { missing, prepare: tool.prepareInput }),
      output: tool.outputSchema && converted(z.object(tool.outputSchema), names.render),
    };
    byPrefix.set(names.prefix, s);
  }
  return s;
}

/** The input schema a client lists for a tool (what the SDK serves). */
export function servedInputSchema(tool: ToolDefinition, names: ToolNamer): Json {
  return schemasOf(tool, names).input['~standard'].jsonSchema.input({ target: 'draft-2020-12' }) as Json;
}

/**
 * Characters of names, descriptions and input schemas of `tools` as served: what every model turn
 * pays for the tool list (SANDBOX_TOOLS and the prefix change it). Doctor prints it, bench records it.
 */
export function surfaceChars(tools: readonly ToolDefinition[], names: ToolNamer): number {
  return tools.reduce(
    (sum, tool) =>
      sum +
      names.name(tool.name).length +
      names.render(tool.description).length +
      JSON.stringify({ type: 'object', ...servedInputSchema(tool, names) }).length,
    0,
  );
}
