#!/usr/bin/env bash
# STAND-INS for the official images docker-compose.yml and the Dockerfile name, built from a
# Debian root file system, for machines that cannot pull from an image registry (the
# development and CI machines: only Debian's packages, PyPI and npm are reachable). They are
# test infrastructure only (tests/compose/README.md): an official image already present
# under a tag is kept, never replaced.
#
#   tests/compose/standins/build.sh          build what is missing (layers are cached)
#
# 1. `debootstrap --variant=minbase bookworm` once into var/standins/bookworm-minbase
#    (reused when present), `docker import`ed as gridgov-standin/bookworm:base;
# 2. gridgov-standin/bookworm:ca on it: apt as in the official Debian images, and the
#    machine's CA bundle (a TLS-inspecting proxy may sit between this machine and PyPI or
#    npm) for pip, requests and npm;
# 3. one small Dockerfile per official image, tagged exactly as the compose file and the
#    Dockerfile use it:
#      python:3.11-slim                          Debian python3 (3.11), python/pip on PATH
#      node:20-slim                              the machine's Node 20 and npm (else Debian's)
#      rabbitmq:3.10-management                  Debian rabbitmq-server 3.10 + management
#      postgres:15                               Debian postgresql-15, the official entrypoint's
#                                                POSTGRES_* and /docker-entrypoint-initdb.d
#      nginxinc/nginx-unprivileged:1.27-alpine   Debian nginx as uid 101 on 8080, busybox wget
#      prom/prometheus:v2.42.0                   Debian prometheus 2.42 as nobody
#    (grafana/grafana has no Debian package: no stand-in, compose-test leaves it out.)
# Prints how long each step took.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
CACHE="${GRIDGOV_STANDINS_CACHE:-$ROOT/var/standins}"
ROOTFS="$CACHE/bookworm-minbase"
MIRROR="${GRIDGOV_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE=gridgov-standin/bookworm:base
CA=gridgov-standin/bookworm:ca
LABEL=org.gridgov.standin

say() { echo "standins: $*" >&2; }
timed() {  # timed NAME command...: run, then say how long it took
    local name=$1 start; shift
    start=$(date +%s)
    "$@"
    say "$name took $(( $(date +%s) - start )) s"
}

command -v docker >/dev/null || { say "docker is missing"; exit 2; }
docker info >/dev/null 2>&1 || { say "no Docker engine answers (start dockerd)"; exit 2; }

rootfs() {
    if [[ -f "$ROOTFS/.complete" ]]; then
        say "reusing $ROOTFS"
        return
    fi
    command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; exit 2; }
    mkdir -p "$CACHE"
    rm -rf "$ROOTFS.tmp"
    say "debootstrap --variant=minbase bookworm -> $ROOTFS"
    debootstrap --variant=minbase bookworm "$ROOTFS.tmp" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    touch "$ROOTFS.tmp/.complete"
    mv "$ROOTFS.tmp" "$ROOTFS"
}

import_base() {
    local stamp
    stamp=$(stat -c %Y "$ROOTFS/.complete")
    if [[ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL.rootfs\"}}" "$BASE" 2>/dev/null)" == "$stamp" ]]; then
        say "$BASE is up to date"
        return
    fi
    say "docker import $ROOTFS -> $BASE"
    tar -C "$ROOTFS" --numeric-owner --exclude=./.complete \
        --exclude='./var/cache/apt/archives/*.deb' --exclude='./proc/*' --exclude='./sys/*' \
        --exclude='./dev/*' -c . \
        | docker import -c "LABEL $LABEL=true $LABEL.rootfs=$stamp" \
                        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                        -c 'CMD ["bash"]' - "$BASE" >/dev/null
}

# A tag that names an image not built here (an official one, pulled or loaded) is kept.
official() {
    docker image inspect "$1" >/dev/null 2>&1 \
        && [[ -z "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1")" ]]
}

build() {  # build TAG DIR [CONTEXT]: its output in $CACHE/build-<name>.log, shown on failure
    local tag=$1 dir=$2 context=${3:-$2} log
    log="$CACHE/build-$(basename "$dir").log"
    if official "$tag"; then
        say "$tag: an official image is present, kept"
        return
    fi
    say "building $tag"
    docker build --label "$LABEL=true" -t "$tag" -f "$dir/Dockerfile" "$context" > "$log" 2>&1 \
        || { tail -30 "$log" >&2; say "$tag FAILED (all of it in $log)"; return 1; }
}

node_context() {
    # The node:20 stand-in takes this machine's Node.js 20 and npm when it has them (the
    # official image's major version; Debian bookworm's nodejs is 18), else Debian's.
    local ctx="$CACHE/node-context"
    rm -rf "$ctx" && mkdir -p "$ctx/rootfs"
    cp "$HERE/node/Dockerfile" "$ctx/Dockerfile"
    if command -v node >/dev/null && [[ "$(node --version)" == v20.* ]] \
            && [[ -d /usr/lib/node_modules/npm ]] && [[ "$(command -v node)" == /usr/bin/node ]]; then
        mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/usr/local/lib/node_modules"
        cp /usr/bin/node "$ctx/rootfs/usr/local/bin/node"
        cp -r /usr/lib/node_modules/npm "$ctx/rootfs/usr/local/lib/node_modules/npm"
        say "node:20-slim takes this machine's Node $(node --version) and npm $(npm --version)"
    else
        say "node:20-slim: no Node 20 on this machine, Debian's nodejs and npm instead"
    fi
    echo "$ctx"
}

standins() {
    local ca_ctx="$CACHE/ca-context"
    mkdir -p "$ca_ctx"
    cp "$HERE/base/Dockerfile" "$ca_ctx/Dockerfile"
    cp /etc/ssl/certs/ca-certificates.crt "$ca_ctx/ca-bundle.crt"
    docker build -q --label "$LABEL=true" -t "$CA" "$ca_ctx" >/dev/null
    # side by side: each mostly waits on apt's downloads and dpkg
    local node_ctx pids=() failed=0
    node_ctx=$(node_context)
    build python:3.11-slim "$HERE/python" & pids+=($!)
    build node:20-slim "$HERE/node" "$node_ctx" & pids+=($!)
    build rabbitmq:3.10-management "$HERE/rabbitmq" & pids+=($!)
    build postgres:15 "$HERE/postgres" & pids+=($!)
    build nginxinc/nginx-unprivileged:1.27-alpine "$HERE/nginx" & pids+=($!)
    build prom/prometheus:v2.42.0 "$HERE/prometheus" & pids+=($!)
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    return $failed
}

timed debootstrap rootfs
timed "docker import" import_base
timed "stand-in images" standins
