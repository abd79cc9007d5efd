# One image for the five gridgov services and the one-shot migration; docker-compose.yml
# picks the command. Build from the repository root: docker build -t gridgov .

# The web front ends (the grid workers' app, web/app, and the workbenches, web/desk; both
# read web/shared): `npm ci` from their lock files, then `vite build`, as `make app` does
# (scripts/build_app.sh). Only their dist/ goes into the image below.
FROM node:20-slim AS web
WORKDIR /build
COPY web/app/package.json web/app/package-lock.json ./web/app/
COPY web/desk/package.json web/desk/package-lock.json ./web/desk/
RUN cd web/app && npm ci --no-audit --no-fund --loglevel=error \
 && cd ../desk && npm ci --no-audit --no-fund --loglevel=error
COPY web/shared ./web/shared
COPY web/app ./web/app
COPY web/desk ./web/desk
RUN cd web/app && npx --no-install vite build --logLevel warn \
 && cd ../desk && npx --no-install vite build --logLevel warn

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PSYCOPG_WAIT_FUNC=wait_select

RUN groupadd --system --gid 10001 gridgov \
 && useradd --system --uid 10001 --gid gridgov --home-dir /app --shell /usr/sbin/nologin gridgov

WORKDIR /app

# Dependencies first, so that code changes do not reinstall them. Wheels exist for every
# pinned package on linux/amd64 and arm64, so no compiler is needed.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# Only what runs: never .env, .venv or var/ (secrets come from the environment).
COPY pyproject.toml ./
COPY gridgov_common ./gridgov_common
COPY services ./services
COPY tools ./tools
COPY scripts/wait_for.py scripts/wait_migrated.py ./scripts/
COPY --from=web /build/web/app/dist ./web/app/dist
COPY --from=web /build/web/desk/dist ./web/desk/dist
RUN pip install --no-build-isolation --no-deps -e . \
 && chown -R root:root /app && chmod -R a+rX,go-w /app \
 && mkdir -p /run/gridgov && chown gridgov:gridgov /run/gridgov

# /run/gridgov: the only place the image writes (compose's rabbitmq-definitions job; a
# named volume mounted there takes this owner). Kubernetes mounts the root file system
# read-only (deploy/k8s/base), so nothing else may be written.

USER gridgov:gridgov
EXPOSE 8001 8002 8003 8004 8005

# Overridden per service in docker-compose.yml, e.g.
#   nameko run --config services/registry/config.yaml services.registry.service
CMD ["nameko", "run", "--config", "services/registry/config.yaml", "services.registry.service"]
