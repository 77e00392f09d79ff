import type { AgentErrorBody } from './protocol.js';

/** An error the agent reports with one of the project's SandboxError codes. */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const ERRNO_CODES: Record<string, string> = {
  ENOENT: 'NOT_FOUND',
  ENOTDIR: 'INVALID_ARGUMENT',
  EISDIR: 'INVALID_ARGUMENT',
  ENOTEMPTY: 'INVALID_ARGUMENT',
  EINVAL: 'INVALID_ARGUMENT',
  ENAMETOOLONG: 'INVALID_ARGUMENT',
  ELOOP: 'INVALID_ARGUMENT',
  EEXIST: 'ALREADY_EXISTS',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EROFS: 'PERMISSION_DENIED',
  EXDEV: 'UNSUPPORTED',
  EFBIG: 'LIMIT_EXCEEDED',
  ENOSPC: 'LIMIT_EXCEEDED',
  EDQUOT: 'LIMIT_EXCEEDED',
  EMFILE: 'LIMIT_EXCEEDED',
  EBUSY: 'PERMISSION_DENIED',
};

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'is a directory',
  ENOTEMPTY: 'directory not empty',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system (only /workspace, /tmp and the home folder are writable)',
  EFBIG: 'file too large for the sandbox file size limit',
  ENOSPC: 'no space left',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'busy (a mount point)',
  ENAMETOOLONG: 'name too long',
};

const ERRNO_HINTS: Record<string, string> = {
  ENOENT: 'check the path (relative paths start at the workdir); file_list shows what exists',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EROFS: 'write under /workspace, /tmp or the home folder',
  EACCES: 'see its permissions with file_info; change them with shell_exec (chmod) if it is yours',
  EPERM: 'see its permissions with file_info; change them with shell_exec (chmod) if it is yours',
  EISDIR: "give the path of a file, not a folder; file_list shows a folder's entries",
  ENOTEMPTY: 'delete its contents first, or pick another destination',
  EEXIST: 'pick another path, or delete the existing one first',
  ELOOP: 'a symlink points (through others) back to itself: see where with file_info, then fix or delete it',
  ENAMETOOLONG: 'each name in a path is at most 255 bytes (UTF-8) and a whole path at most 4096: pick a shorter one',
};

export function toErrorBody(err: unknown): AgentErrorBody {
  if (err instanceof AgentError) return { code: err.code, message: err.message, hint: err.hint };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.code in ERRNO_CODES) {
    const where = e.path ? `${e.path}: ` : '';
    return {
      code: ERRNO_CODES[e.code]!,
      message: `${where}${ERRNO_TEXT[e.code] ?? e.code}`,
      hint: ERRNO_HINTS[e.code],
    };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(err) };
}
