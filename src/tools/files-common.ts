import { z } from 'zod';
import { SandboxError } from '../errors.js';

export const pathSchema = z
  .string()
  .min(1, 'path must not be empty')
  .max(4096, 'path is longer than 4096 characters')
  .describe('Relative to /workspace, or absolute');

export function fmtBytes(count: number): string {
  if (count < 1024) return `${count} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = count / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function fmtMode(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/** "644", "0755", "0o600" -> number; the string form keeps a model from sending 755 as decimal. */
export function parseMode(mode: string | undefined): number | undefined {
  if (mode === undefined) return undefined;
  const m = /^(?:0o?)?([0-7]{3,4})$/.exec(mode.trim());
  if (!m)
    throw new SandboxError('INVALID_ARGUMENT', `mode ${JSON.stringify(mode)} is not an octal permission string`, {
      hint: 'pass e.g. "644" for rw-r--r-- or "755" for an executable',
    });
  return parseInt(m[1]!, 8);
}

/** "2026-11-29 01:07" */
export function fmtTime(iso: string): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '';
}
