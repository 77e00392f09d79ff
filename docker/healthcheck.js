// The image's HEALTHCHECK: exit 0 when /healthz says the server can create sandboxes, 1 otherwise.
// Plain JavaScript (the image has Node, no curl); the port and host come from the container's settings.
const port = process.env.SANDBOX_MCP_PORT || '3939';
const bound = (process.env.SANDBOX_MCP_HOST || '0.0.0.0').replace(/^\[(.*)\]$/, '$1');
// A wildcard bind answers on loopback; a specific address only on itself.
const host = bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound.includes(':') ? `[${bound}]` : bound;
fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(4000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
