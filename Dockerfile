# syntax=docker/dockerfile:1
# keyshift daemon image. TypeScript runs through tsx (a runtime dependency), so
# there is no compile step: the image holds production node_modules and sources.
# It reads its config from /etc/keyshift/keyshift.yaml (mount yours there; set
# http.host 0.0.0.0) plus KEYSHIFT_* variables; docker-compose.yml shows a full setup.

# --- dependencies: production packages only -----------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The lock file lists chdb's native library for linux-x64 only. Where npm ci
# refuses it (another architecture), npm install resolves the matching optional
# package from the same lock without rewriting it, as .ci/run does.
RUN npm ci --omit=dev --no-audit --no-fund \
    || npm install --omit=dev --no-audit --no-fund --no-save \
    && npm cache clean --force

# --- runtime -----------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    KEYSHIFT_CONFIG=/etc/keyshift/keyshift.yaml \
    KEYSHIFT_DATA_DIR=/var/lib/keyshift
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# Directories the non-root user writes to. A named volume mounted on one of
# them starts with this ownership, so the gateway log volume and the data
# directory are writable without running as root.
RUN mkdir -p /etc/keyshift /var/lib/keyshift /var/log/gateway \
    && chown node:node /var/lib/keyshift /var/log/gateway
USER node
EXPOSE 8080
# slim images have no curl: Node's fetch checks liveness. Assumes http.port 8080.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/keyshift.js", "run"]
