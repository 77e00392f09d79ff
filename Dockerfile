# The sandbox-mcp server as a container: `docker build -t sandbox-mcp-server .` (see README, "Container
# image and compose"). BASE_IMAGE is any Debian-based image with Node.js 20 and npm on the PATH and a user
# `node` (uid 1000); offline, scripts/docker-server-image.sh makes one with debootstrap and passes it here.
# Only the legacy builder's features are used, so it builds with or without BuildKit.
ARG BASE_IMAGE=node:20-bookworm-slim

# Stage 1: compile TypeScript with the dev dependencies.
# NPM_REGISTRY: a registry other than npm's default; NPM_EXTRA_CA: PEM certificates npm must trust besides
# Node's own (a private registry's CA, or a TLS-inspecting proxy's). Both only reach the two install stages.
FROM ${BASE_IMAGE} AS build
ARG NPM_REGISTRY=
ARG NPM_EXTRA_CA=
WORKDIR /app
COPY package.json package-lock.json docker/npm-ci.sh ./
RUN sh npm-ci.sh
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/bundle-agent.mjs ./scripts/
COPY src ./src
RUN npm run build

# Stage 2: the runtime dependencies alone (no TypeScript, no test tools). Install scripts stay off: no
# runtime dependency needs one (ssh2's optional native speed-up falls back to JavaScript).
FROM ${BASE_IMAGE} AS deps
ARG NPM_REGISTRY=
ARG NPM_EXTRA_CA=
WORKDIR /app
COPY package.json package-lock.json docker/npm-ci.sh ./
RUN sh npm-ci.sh --omit=dev

# Stage 3: what runs. No compiler, no npm cache; root owns the code, the server's user owns only its state.
FROM ${BASE_IMAGE}
ARG DEFAULT_PROVIDER=docker
ENV NODE_ENV=production \
    SANDBOX_PROVIDER=${DEFAULT_PROVIDER} \
    SANDBOX_MCP_PORT=3939 \
    SANDBOX_MCP_HOST=0.0.0.0 \
    SANDBOX_STATE_DIR=/var/lib/sandbox-mcp \
    SANDBOX_CACHE_DIR=/var/cache/sandbox-mcp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json README.md ./
COPY templates ./templates
COPY docker/healthcheck.js ./docker/healthcheck.js
RUN install -d -o 1000 -g 1000 -m 0700 /var/lib/sandbox-mcp /var/cache/sandbox-mcp
USER 1000:1000
VOLUME ["/var/lib/sandbox-mcp"]
EXPOSE 3939
# /healthz answers 503 while the provider cannot create sandboxes (e.g. the Docker engine is unreachable).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/docker/healthcheck.js"]
# node is PID 1 and handles SIGTERM itself (calls in flight finish within SANDBOX_SHUTDOWN_GRACE, sandboxes
# are removed, exit 0); `docker run --init` or compose's `init: true` adds a zombie reaper for the local
# provider with SANDBOX_ISOLATION=none, the one mode that starts host processes in the container.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
