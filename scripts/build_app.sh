#!/usr/bin/env bash
# Build the grid worker's app (web/app, issue 12) into web/app/dist: `npm ci` from the
# lock file, then `vite build`. Skipped when dist/ is newer than every source file, the
# lock file and the build config (so `make up`, `make test` and `make bench` pay for it
# only after a change). Node 20 and npm (the npm registry, or a mirror in .npmrc) needed.
#
#   scripts/build_app.sh           build if stale
#   scripts/build_app.sh --force   build anyway
set -euo pipefail
cd "$(dirname "$0")/../web/app"

say() { echo "build_app: $*" >&2; }

command -v npm >/dev/null 2>&1 || {
    say "npm is missing: install Node.js 20 and npm (Debian: apt-get install nodejs npm)"
    exit 2
}

stamp=dist/index.html
if [[ "${1:-}" != --force && -f "$stamp" && -f dist/sw.js ]]; then
    newer="$(find src public ../shared index.html package.json package-lock.json vite.config.js \
        -newer "$stamp" -print -quit)"
    if [[ -z "$newer" ]]; then
        say "web/app/dist is up to date"
        exit 0
    fi
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "npm ci (web/app/package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
fi
say "vite build -> web/app/dist"
npx --no-install vite build --logLevel warn
touch "$stamp"
