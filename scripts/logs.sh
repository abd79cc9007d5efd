#!/usr/bin/env bash
# Follow the services' logs (tail -F, so a log that appears or is recreated is picked up).
#
#   scripts/logs.sh          every service's var/log/<svc>.log   (make logs)
#   scripts/logs.sh SVC      one service                          (make logs SVC=registry)
#
# TAIL_LINES (default 50) lines of history are shown first.
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a SERVICES <<<"${GRIDGOV_SERVICES:-registry events dispatch assessment notify}"
LOG_DIR=var/log

files=()
if (($#)) && [[ -n "$1" ]]; then
    for svc in "$@"; do
        if [[ " ${SERVICES[*]} " != *" $svc "* ]]; then
            echo "logs: unknown service '$svc' (one of: ${SERVICES[*]})" >&2
            exit 2
        fi
        files+=("$LOG_DIR/$svc.log")
    done
else
    for svc in "${SERVICES[@]}"; do files+=("$LOG_DIR/$svc.log"); done
fi

present=0
for f in "${files[@]}"; do [[ -e "$f" ]] && present=1; done
((present)) || echo "logs: no log yet under $LOG_DIR/ (start the services with 'make up'); waiting..." >&2
exec tail -n "${TAIL_LINES:-50}" -F "${files[@]}"
