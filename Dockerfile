# syntax=docker/dockerfile:1
# loralens: the Discord bot (`bot`, the default) or an analysis worker (`worker`) from one image.
# Build: docker build -t loralens .   Run: see compose.yaml and README "Running at scale".

# ---- build: the install steps CI runs (.ci/run): Debian build packages, npm ci, check:install ----
FROM node:20.18.1-bookworm-slim AS build
# Never download onnxruntime's GPU binaries; the CPU ones are in the npm package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      make g++ python3 pkg-config \
      libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev \
 && rm -rf /var/lib/apt/lists/*
# package.json allowScripts is enforced from npm 11.19 (see scripts/check-install.ts).
RUN npm install -g npm@11.19
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run check:install && npm run typecheck

# ---- runtime: shared libraries only, non-root, data and models in volumes ----
FROM node:20.18.1-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tini libcairo2 libpango-1.0-0 libpangocairo-1.0-0 libjpeg62-turbo libgif7 librsvg2-2 fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    LORALENS_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app /app
COPY --chown=node:node docker/entrypoint.sh /usr/local/bin/loralens-entrypoint
RUN chmod 0755 /usr/local/bin/loralens-entrypoint \
 && mkdir -p /data \
 && chown node:node /data /app/assets/models
USER node
# The model files (hundreds of MB) are not in the image: a volume, filled by `npm run models` at first start.
VOLUME ["/data", "/app/assets/models"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/loralens-entrypoint"]
CMD ["bot"]
