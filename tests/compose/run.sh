#!/usr/bin/env bash
# `make compose-test` (issue 15): the docker-compose stack, proven. tests/compose/README.md.
#
#   1. a Docker engine and Compose v2 (docker.sh: installs and starts what is missing)
#   2. the stand-in images (standins/build.sh: debootstrap once, cached under var/standins)
#   3. a fresh env file with new secrets (scripts/gen_env.py) in var/compose-test/env
#   4. docker compose build migrate: the one gridgov image (its web stage included)
#   5. docker compose up -d --wait: every service healthy (compose's own healthchecks)
#   6. pytest tests/compose with GRIDGOV_COMPOSE_TEST=1
#   7. docker compose down -v, always; dockerd stopped again if step 1 started it
#
# Project gridgov-compose-test (never a developer's own `gridgov` stack or its volumes),
# published ports chosen by Docker (compose.test.yml). Grafana is left out: it has no
# Debian package to build a stand-in from. Prints how long each step took, also into
# var/compose-test/timings.txt. Set GRIDGOV_COMPOSE_KEEP=1 to leave the stack up after.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
STATE="$ROOT/var/compose-test"
mkdir -p "$STATE"
# compose takes a variable from the process environment before the env file: nothing a
# developer's shell exported (a `set -a; . ./.env`) may stand in for this run's secrets
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(GRIDGOV_|COMPOSE_)' | grep -v '^GRIDGOV_COMPOSE_' || true)
export GRIDGOV_COMPOSE_PROJECT="${GRIDGOV_COMPOSE_PROJECT:-gridgov-compose-test}"
export GRIDGOV_COMPOSE_ENV_FILE="$STATE/env"
# grafana: no stand-in (no Debian package); demo and simulator: profile demo, run by the test
STACK=(registry events dispatch assessment notify proxy departments prometheus)
TIMINGS="$STATE/timings.txt"
: > "$TIMINGS"
rm -f "$STATE/faults.txt"

say() { echo "compose-test: $*" >&2; }
timed() {
    local name=$1 start rc=0; shift
    start=$(date +%s)
    "$@" || rc=$?
    local took=$(( $(date +%s) - start ))
    printf '%-28s %4d s%s\n' "$name" "$took" "$([[ $rc == 0 ]] || echo "  FAILED (exit $rc)")" | tee -a "$TIMINGS" >&2
    return $rc
}
compose() {
    docker compose --project-directory "$ROOT" -p "$GRIDGOV_COMPOSE_PROJECT" \
        --env-file "$GRIDGOV_COMPOSE_ENV_FILE" \
        -f docker-compose.yml -f tests/compose/compose.test.yml "$@"
}

finish() {
    local rc=$?
    if [[ $rc != 0 && -f "$GRIDGOV_COMPOSE_ENV_FILE" ]] && docker info >/dev/null 2>&1; then
        say "FAILED: the stack as it was, and its last log lines (all in var/compose-test/logs.txt)"
        compose ps -a >&2 || true
        compose logs --no-color --timestamps > "$STATE/logs.txt" 2>&1 || true
        tail -60 "$STATE/logs.txt" >&2 || true
    fi
    if [[ "${GRIDGOV_COMPOSE_KEEP:-}" != 1 && -f "$GRIDGOV_COMPOSE_ENV_FILE" ]] \
            && docker info >/dev/null 2>&1; then
        timed "down -v" compose down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    if [[ "${GRIDGOV_COMPOSE_KEEP:-}" != 1 && -f "$STATE/dockerd.pid" ]]; then
        local pid
        pid=$(cat "$STATE/dockerd.pid")
        say "stopping the dockerd this run started (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        rm -f "$STATE/dockerd.pid"
    fi
    say "timings:"; cat "$TIMINGS" >&2
    if [[ -f "$STATE/faults.txt" ]]; then say "the kill test:"; cat "$STATE/faults.txt" >&2; fi
    exit $rc
}
trap finish EXIT

timed "docker engine" tests/compose/docker.sh
timed "stand-ins (incl. debootstrap)" tests/compose/standins/build.sh
# Leftovers of an interrupted run: its PostgreSQL volume holds the old run's password, so
# this run's fresh secrets would be refused ("password authentication failed"). They may
# come from another checkout (CI clones afresh), so find them by the project's label.
timed "leftovers removed" tests/compose/clear_project.sh "$GRIDGOV_COMPOSE_PROJECT"
rm -f "$GRIDGOV_COMPOSE_ENV_FILE"
python3 scripts/gen_env.py --output "$GRIDGOV_COMPOSE_ENV_FILE" >/dev/null
# One image (gridgov:latest) for every service that has `build:`; without buildx, compose
# would build it once per such service, in parallel, on a 2-core machine: build it once.
timed "compose build" compose build migrate
timed "compose up (healthy)" compose up -d --wait --wait-timeout 300 --pull never "${STACK[@]}"
timed "tests" env GRIDGOV_COMPOSE_TEST=1 GRIDGOV_NO_MONKEY_PATCH=1 \
    .venv/bin/pytest -p no:cacheprovider -v --durations=0 tests/compose
