#!/usr/bin/env bash
# Build the web front ends into their dist/: the grid worker's app (web/app, issue 12,
# served at /app/) and the workbenches (web/desk, issue 14, served at /desk/): `npm ci`
# from each lock file, then `vite build`. A site is skipped when its dist/ is newer than
# every source file, the shared labels, the lock file and the build config (so `make up`,
# `make test` and `make bench` pay for it only after a change). Node 20 and npm (the npm
# registry, or a mirror in .npmrc) needed.
#
#   scripts/build_app.sh                 build what is stale (app and desk)
#   scripts/build_app.sh --force         build anyway
#   scripts/build_app.sh [--force] desk  one site
set -euo pipefail
WEB="$(cd "$(dirname "$0")/../web" && pwd)"

say() { echo "build_app: $*" >&2; }

command -v npm >/dev/null 2>&1 || {
    say "npm is missing: install Node.js 20 and npm (Debian: apt-get install nodejs npm)"
    exit 2
}

force=""
if [[ "${1:-}" == --force ]]; then force=1; shift; fi
sites=("$@")
[[ ${#sites[@]} -gt 0 ]] || sites=(app desk)

fresh() {  # dist/ of the current site newer than everything it is built from
    local stamp=dist/index.html
    [[ -z "$force" && -f "$stamp" ]] || return 1
    [[ "$1" != app || -f dist/sw.js ]] || return 1  # the app's service worker
    [[ -z "$(find src public ../shared index.html package.json package-lock.json \
        vite.config.js -newer "$stamp" -print -quit 2>/dev/null)" ]]
}

for site in "${sites[@]}"; do
    cd "$WEB/$site"
    if fresh "$site"; then
        say "web/$site/dist is up to date"
        continue
    fi
    if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
        say "npm ci (web/$site/package-lock.json)"
        npm ci --no-audit --no-fund --loglevel=error
    fi
    say "vite build -> web/$site/dist"
    npx --no-install vite build --logLevel warn
    touch dist/index.html
done
