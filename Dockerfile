# syntax=docker/dockerfile:1
# keyshift daemon image: the compiled JavaScript (dist/) on Node.js 24 LTS, run as
# the unprivileged `node` user. It reads its config from /etc/keyshift/keyshift.yaml
# (mount yours there; set http.host 0.0.0.0) plus KEYSHIFT_* variables;
# docker-compose.yml shows a full setup.

# --- build: all packages, compile src/ to dist/ ---------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
# The lock file lists chdb's native library for linux-x64 only. Where npm ci
# refuses it (another architecture), npm install resolves the matching optional
# package from the same lock without rewriting it, as .ci/run does. Both run
# `prepare`, which builds dist/.
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund --no-save

# --- dependencies: production packages only -----------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    || npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-save \
    && npm cache clean --force

# --- runtime -----------------------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    KEYSHIFT_CONFIG=/etc/keyshift/keyshift.yaml \
    KEYSHIFT_DATA_DIR=/var/lib/keyshift
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
# Directories the non-root user writes to. A named volume mounted on one of
# them starts with this ownership, so the gateway log volume and the data
# directory are writable without running as root.
RUN mkdir -p /etc/keyshift /var/lib/keyshift /var/log/gateway \
    && chown node:node /var/lib/keyshift /var/log/gateway \
    && chmod 0700 /var/lib/keyshift
USER node
EXPOSE 8080
# Probes /healthz on the port the configuration (file and KEYSHIFT_* variables) sets.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "bin/keyshift.js", "healthcheck"]
CMD ["node", "bin/keyshift.js", "run"]
