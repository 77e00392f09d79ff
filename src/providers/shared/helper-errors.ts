import { SandboxError, type SandboxErrorCode } from '../../errors.js';

/**
 * Errors of the small shell helpers run inside docker, E2B and Daytona sandboxes: a helper that checked
 * a condition says so on stderr in our protocol line; otherwise coreutils' message is mapped to a code.
 */

/** Marks the first line of a helper's stderr as ours: `E<TAB>CODE<TAB>message<TAB>hint`. */
export const HELPER_ERROR = 'E\t';

const HELPER_CODES = new Set<SandboxErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'LIMIT_EXCEEDED',
  'TIMEOUT',
  'UNSUPPORTED',
]);

/** coreutils' own error texts, for failures the helper did not check for up front. */
const TOOL_MESSAGES: [RegExp, SandboxErrorCode, string][] = [
  [
    /Read-only file system/i,
    'PERMISSION_DENIED',
    'read-only file system (only /workspace, /tmp and the home folder are writable)',
  ],
  [/Permission denied|Operation not permitted/i, 'PERMISSION_DENIED', 'permission denied'],
  [/No such file or directory/i, 'NOT_FOUND', 'no such file or directory'],
  [/Not a directory/i, 'INVALID_ARGUMENT', 'a parent is not a directory'],
  [/Is a directory/i, 'INVALID_ARGUMENT', 'is a directory'],
  [/Directory not empty/i, 'INVALID_ARGUMENT', 'directory not empty'],
  [/File exists/i, 'ALREADY_EXISTS', 'already exists'],
  [/File too large/i, 'LIMIT_EXCEEDED', 'file too large for the sandbox file size limit'],
  [/No space left|Disk quota/i, 'LIMIT_EXCEEDED', 'no space left'],
  [/File name too long|Invalid argument/i, 'INVALID_ARGUMENT', 'invalid path'],
  [/Too many levels of symbolic links/i, 'INVALID_ARGUMENT', 'too many levels of symbolic links'],
];

export const PROCESS_LIMIT_HINT =
  'the sandbox has probably used up its process limit (SANDBOX_PIDS_MAX): shell_kill_all ends every process in it, leftovers of earlier commands included (files stay); shell_kill stops one background process';

/** A failed file helper: our protocol line when it checked, else the tool's message mapped to a code. */
export function helperError(stderr: string, exitCode: number | null, path: string): SandboxError {
  const first = stderr.split('\n').find((l) => l.startsWith(HELPER_ERROR));
  if (first) {
    const [, code, message, hint] = first.split('\t');
    const c = (HELPER_CODES.has(code as SandboxErrorCode) ? code : 'INTERNAL') as SandboxErrorCode;
    return new SandboxError(c, message ?? 'file operation failed', { hint: hint || undefined });
  }
  if (exitCode === 128 + 25) {
    // SIGXFSZ: the fsize ulimit
    return new SandboxError('LIMIT_EXCEEDED', `${path}: file too large for the sandbox file size limit`, {
      hint: 'write a smaller file, or raise SANDBOX_FILE_SIZE_MB',
    });
  }
  // The helper's shell started, but could not fork the tools it runs: the same limit as a failed exec.
  if (/fork: (retry: )?Resource temporarily unavailable/i.test(stderr)) {
    return new SandboxError('LIMIT_EXCEEDED', `${path}: the file operation could not start a process`, {
      hint: PROCESS_LIMIT_HINT,
    });
  }
  for (const [re, code, text] of TOOL_MESSAGES) {
    if (re.test(stderr)) return new SandboxError(code, `${path}: ${text}`);
  }
  return new SandboxError(
    'INTERNAL',
    `${path}: file operation failed (exit ${exitCode}): ${stderr.trim().slice(0, 500) || 'no message'}`,
  );
}
