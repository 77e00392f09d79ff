/**
 * SANDBOX_EGRESS_ALLOW: exact host names, `*.example.com` (any name below example.com, not the name
 * itself), or `*` (any host; the address check still applies).
 */
export function hostAllowed(
  host: string,
  allow: readonly string[],
): { allowed: true; rule: string } | { allowed: false } {
  const name = normaliseHost(host);
  if (!name) return { allowed: false };
  for (const raw of allow) {
    const rule = normaliseHost(raw.startsWith('*.') ? raw.slice(2) : raw);
    if (raw === '*') return { allowed: true, rule: raw };
    if (!rule) continue;
    if (raw.startsWith('*.') ? name.endsWith(`.${rule}`) : name === rule) return { allowed: true, rule: raw };
  }
  return { allowed: false };
}

/**
 * A host name as the proxy compares it: lower case, no trailing dot, IPv6 brackets removed. Undefined
 * for anything that is not a plain DNS name or IP literal (a name with spaces, slashes, `@`...).
 */
export function normaliseHost(host: string): string | undefined {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  h = h.replace(/\.$/, '');
  if (!h || h.length > 253) return undefined;
  if (/^[0-9a-f:.]+$/.test(h) && h.includes(':')) return h; // IPv6 literal
  return /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(h) ? h : undefined;
}
