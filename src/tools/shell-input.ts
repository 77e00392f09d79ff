import { z } from 'zod';
import { SandboxError } from '../errors.js';

export const envSchema = z
  .array(z.string().regex(/^[^=]+=/, 'env entries are KEY=VALUE strings, e.g. "NODE_ENV=test"'))
  .optional()
  .describe('Variables, e.g. ["NODE_ENV=test"]');

/**
 * `env` was an object ({"NODE_ENV": "test"}) before it became KEY=VALUE strings, which every client
 * framework accepts: the object form (and [{name, value}]) is still taken, only no longer advertised.
 */
export function envAsStrings(args: Record<string, unknown>): Record<string, unknown> {
  const env = args.env;
  const entry = (name: unknown, value: unknown) =>
    typeof name === 'string' && typeof value === 'string' ? `${name}=${value}` : { name, value };
  if (env && typeof env === 'object' && !Array.isArray(env))
    return { ...args, env: Object.entries(env).map(([name, value]) => entry(name, value)) };
  if (Array.isArray(env))
    return {
      ...args,
      env: env.map((error: unknown) =>
        error && typeof error === 'object' && 'name' in error
          ? entry((error as { name: unknown }).name, (error as { value?: unknown }).value)
          : error,
      ),
    };
  return args;
}

/** KEY=VALUE strings as the map the providers take. */
export function envMap(env: string[] | undefined): Record<string, string> | undefined {
  if (!env) return undefined;
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/**
 * Zod's record-key errors do not carry a custom message, so names are checked here; a NUL byte cannot
 * pass through exec(2) at all, in the command or in a value.
 */
export function checkInput(command: string, env: Record<string, string> | undefined): void {
  if (command.includes('\0'))
    throw new SandboxError(
      'INVALID_ARGUMENT',
      'command contains a NUL byte, which no program can receive in its arguments',
      {
        hint: "remove it; to produce one, write it in the command as printf '\\0', or pass binary data through stdin or a file",
      },
    );
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SandboxError('INVALID_ARGUMENT', `env: ${JSON.stringify(name)} is not a valid variable name`, {
        hint: 'variable names are letters, digits and _, not starting with a digit',
      });
    }
    if (value.includes('\0'))
      throw new SandboxError(
        'INVALID_ARGUMENT',
        `env: the value of ${name} contains a NUL byte, which environment variables cannot hold`,
        { hint: 'remove it, or pass binary data through stdin or a file' },
      );
  }
}
