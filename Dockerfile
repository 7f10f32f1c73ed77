# One image for every Warren service; docker-compose.yml picks the command per service
# (analytics, ingest, panel, client). Build: `docker compose build` or `docker build -t warren .`

# --- build: compile TypeScript, bundle the panel, then keep only production dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches (or none can be fetched),
# against the headers the image ships rather than a download.
ENV npm_config_nodedir=/usr/local
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build \
 && node scripts/build-panel.mjs \
 && node scripts/build-snippet.mjs \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/.cache

# --- runtime: the same base (glibc) so the native sqlite module built above loads; no compiler,
# no dev dependencies, no TypeScript sources except the SQL migrations the store reads ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATABASE_URL=sqlite:/data/warren.db \
    API_KEYS_FILE=/data/keys.json
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/src/panel/web/dist ./src/panel/web/dist
# The store reads its numbered SQL files from here at start (src/store/migrate.ts).
COPY --from=build /app/src/store/migrations ./src/store/migrations
COPY bin ./bin
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# Named volumes mounted here start out owned by node (compose: analytics-data, ingest-keys,
# traefik-auth).
RUN mkdir -p /data /auth && chown node:node /data /auth
USER node
EXPOSE 5046 5064 8080
# Healthy means ready: the service's /readyz (broker and store connected), not merely alive.
# Generous timeout: on a loaded machine starting node alone can take seconds.
HEALTHCHECK --interval=5s --timeout=30s --start-period=120s --retries=6 CMD ["node", "deploy/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/warren.js"]
CMD ["--help"]
