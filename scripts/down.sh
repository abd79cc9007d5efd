#!/usr/bin/env bash
# Stop the services that scripts/up.sh started: SIGTERM (nameko stops gracefully, letting
# running workers finish), wait up to STOP_TIMEOUT seconds (default 20), then SIGKILL what
# is left; remove the pid files.
#
# While waiting, each stopping service's HTTP port is poked every 2 s: nameko's SIGTERM
# handler only schedules the stop in a greenlet, and an idle eventlet hub (no timers, no
# traffic) can sleep up to a minute before running it; a connection wakes it at once. Only processes named by var/run/<svc>.pid whose command
# line is that service's are signalled; stale pid files are just removed.
#
#   scripts/down.sh [SVC...]      (default: every service; run by `make down`)
set -euo pipefail
cd "$(dirname "$0")/.."

if (($#)); then
    SERVICES=("$@")
else
    read -r -a SERVICES <<<"${GRIDGOV_SERVICES:-registry events dispatch assessment notify}"
fi
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"
RUN_DIR=var/run
if [[ -f .env ]]; then  # for <SVC>_HTTP_PORT overrides
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi

say() { echo "down: $*"; }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh


poke() {  # open and close a TCP connection to the service's HTTP port (wakes its hub)
    local port
    port="$(port_of "$1")"
    [[ -n "$port" ]] || return 0
    timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$port" 2>/dev/null || true
}

# the case simulation and the simulated departments (started by up.sh) first: no state
if sim_pid="$(cat "$RUN_DIR/simulator.pid" 2>/dev/null)" && kill -0 "$sim_pid" 2>/dev/null
then
    say "stopping the case simulation (pid $sim_pid)"
    kill -TERM "$sim_pid" 2>/dev/null || true
fi
rm -f "$RUN_DIR/simulator.pid"
if dept_pid="$(cat "$RUN_DIR/departments.pid" 2>/dev/null)" && kill -0 "$dept_pid" 2>/dev/null
then
    say "stopping simulated departments (pid $dept_pid)"
    kill -TERM "$dept_pid" 2>/dev/null || true
fi
rm -f "$RUN_DIR/departments.pid"

declare -A PIDS=()
for svc in "${SERVICES[@]}"; do
    if pid="$(running_pid "$svc")"; then
        say "stopping $svc (pid $pid, SIGTERM)"
        kill -TERM "$pid" 2>/dev/null || true
        PIDS[$svc]="$pid"
    elif [[ -f "$RUN_DIR/$svc.pid" ]]; then
        say "$svc was not running (stale pid file removed)"
        rm -f "$RUN_DIR/$svc.pid"
    fi
done

if ((${#PIDS[@]} == 0)); then
    say "no service was running"
    exit 0
fi

deadline=$((SECONDS + STOP_TIMEOUT))
rounds=0
while :; do
    if ((rounds++ % 4 == 0)); then
        for svc in "${!PIDS[@]}"; do poke "$svc"; done
    fi
    left=()
    for svc in "${!PIDS[@]}"; do
        if running_pid "$svc" >/dev/null; then
            left+=("$svc")
        else
            rm -f "$RUN_DIR/$svc.pid"
            unset "PIDS[$svc]"
            say "$svc stopped"
        fi
    done
    ((${#left[@]})) || break
    if ((SECONDS >= deadline)); then
        for svc in "${left[@]}"; do
            pid="${PIDS[$svc]}"
            say "$svc (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
            # up.sh starts each service as the leader of its own session and process group.
            if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then
                kill -KILL -- "-$pid" 2>/dev/null || true
            else
                kill -KILL "$pid" 2>/dev/null || true
            fi
            rm -f "$RUN_DIR/$svc.pid"
        done
        break
    fi
    sleep 0.5
done
if ((!$#)); then  # the whole stack: the local reverse proxy too (scripts/proxy.sh)
    scripts/proxy.sh stop
fi
say "done"
