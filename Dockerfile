# One image for every Warren service; docker-compose.yml picks the command per service
# (analytics, ingest, panel, client). Build: `docker compose build` or `docker build -t warren .`

# --- build: compile TypeScript, bundle the panel, then keep only production dependencies ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches.
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
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: the same base (glibc) so the native sqlite module built above loads ---
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
COPY bin ./bin
# Named volumes mounted here start out owned by node (compose: analytics-data, ingest-keys).
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 5046 5064 8080
ENTRYPOINT ["node", "bin/warren.js"]
CMD ["--help"]
