import path from 'node:path';
import { SandboxError } from '../../errors.js';

/** Paths as the sandbox sees them: absolute, or relative to the workdir (same rule as local). */
export function resolvePath(workdir: string, filePath: unknown): string {
  if (typeof filePath !== 'string' || filePath.length === 0)
    throw new SandboxError('INVALID_ARGUMENT', 'path must be a non-empty string', {
      hint: 'pass a path relative to the workdir or an absolute one',
    });
  if (filePath.includes('\0'))
    throw new SandboxError('INVALID_ARGUMENT', 'path contains a NUL byte', { hint: 'remove it' });
  return path.posix.resolve(workdir, filePath);
}
