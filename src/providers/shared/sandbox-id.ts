import { randomBytes } from 'node:crypto';

/** Lowercase letters and digits (DNS-label safe), 100 bits: unguessable in preview URLs. */
export function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return [...randomBytes(20)].map((b) => alphabet[b & 31]).join('');
}
