#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer, starting the locally installed servers if they
# are down, and that RabbitMQ's management API (:15672, needed by nameko's rabbit_config
# test fixture) and Prometheus endpoint (:15692) are enabled.
#
#   scripts/ensure_services.sh
#
# Where: host and port come from GRIDGOV_DB_URL and GRIDGOV_AMQP_URI when set (the Makefile
# exports .env), else 127.0.0.1:5432 and 127.0.0.1:5672. A server on another host is only
# waited for, never started. Bounded: ENSURE_TIMEOUT seconds per server (default 90).
#
# Exit status: 0 all up; 1 a server did not come up (the message says where its log is);
# 3 a server is down and not installed here (the message says how to get it).
# Idempotent and cheap when everything already runs; uses bash, coreutils and curl (or
# python3) only, so it works before .venv exists.
set -euo pipefail

# Debian keeps the server commands in sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

TIMEOUT="${ENSURE_TIMEOUT:-90}"
DB_URL="${GRIDGOV_DB_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/gridgov}"
AMQP_URI="${GRIDGOV_AMQP_URI:-pyamqp://guest:guest@127.0.0.1:5672/}"

say() { echo "ensure_services: $*"; }
fail() { echo "ensure_services: ERROR: $*" >&2; exit 1; }

# url_part URL host|port|userpass DEFAULT
url_part() {
    local re='^[A-Za-z0-9+.-]+://(([^@/]*)@)?([^:/?]+)(:([0-9]+))?'
    local value=""
    if [[ "$1" =~ $re ]]; then
        case "$2" in
            userpass) value="${BASH_REMATCH[2]}" ;;
            host) value="${BASH_REMATCH[3]}" ;;
            port) value="${BASH_REMATCH[5]}" ;;
        esac
    fi
    echo "${value:-$3}"
}

PG_HOST="$(url_part "$DB_URL" host 127.0.0.1)"
PG_PORT="$(url_part "$DB_URL" port 5432)"
MQ_HOST="$(url_part "$AMQP_URI" host 127.0.0.1)"
MQ_PORT="$(url_part "$AMQP_URI" port 5672)"
MQ_USERPASS="$(url_part "$AMQP_URI" userpass guest:guest)"
MGMT_URL="http://${MQ_HOST}:15672/api/overview"

port_open() {  # port_open HOST PORT
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

http_ok() {  # http_ok URL [USER:PASS]; true on a 2xx answer
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 3 ${2:+-u "$2"} "$1" 2>/dev/null
    else
        python3 - "$1" "${2:-}" <<'EOF' 2>/dev/null
import base64, sys, urllib.request
req = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    req.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[2].encode()).decode())
urllib.request.urlopen(req, timeout=3)
EOF
    fi
}

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3
    else
        port_open "$PG_HOST" "$PG_PORT"
    fi
}

have() {  # an executable of that name is on PATH
    local path
    path="$(command -v "$1" 2>/dev/null)" && [[ -x "$path" ]]
}

is_local() {
    case "$1" in 127.*|localhost|::1|0.0.0.0) return 0 ;; *) return 1 ;; esac
}

as_root() {  # run a server command as root (directly, or through password-less sudo)
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        fail "need root to run: $* (run it yourself as root, then try again)"
    fi
}

wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
    local seconds="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 1
    done
    say "$what answers"
}

missing=()
pg_needs_start=0
mq_needs_start=0

if pg_ready; then
    say "PostgreSQL answers on $PG_HOST:$PG_PORT"
elif ! is_local "$PG_HOST"; then
    fail "PostgreSQL on $PG_HOST:$PG_PORT does not answer (not a local server: not starting it)"
elif ! have pg_ctlcluster; then
    missing+=("PostgreSQL (no pg_ctlcluster)")
else
    pg_needs_start=1
fi

if port_open "$MQ_HOST" "$MQ_PORT"; then
    say "RabbitMQ answers on $MQ_HOST:$MQ_PORT"
elif ! is_local "$MQ_HOST"; then
    fail "RabbitMQ on $MQ_HOST:$MQ_PORT does not answer (not a local server: not starting it)"
elif ! have rabbitmq-server; then
    missing+=("RabbitMQ (no rabbitmq-server)")
else
    mq_needs_start=1
fi

if ((${#missing[@]})); then
    {
        echo "ensure_services: not installed on this machine, and nothing answers in its place:"
        printf '    - %s\n' "${missing[@]}"
        echo "Install them (Debian/Ubuntu, as root):"
        echo "    apt-get update && apt-get install rabbitmq-server postgresql"
        echo "then run the make target again; or run the whole stack in containers instead:"
        echo "    python3 scripts/gen_env.py && docker compose up --build    (see deploy/README.md)"
    } >&2
    exit 3
fi

if ((pg_needs_start)); then
    started=0
    for version in $(ls /etc/postgresql 2>/dev/null); do
        [[ -d "/etc/postgresql/$version/main" ]] || continue
        if ! pg_ctlcluster --skip-systemctl-redirect "$version" main status >/dev/null 2>&1; then
            say "starting PostgreSQL $version (cluster main)"
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
        fi
        started=1
    done
    ((started)) || fail "PostgreSQL is installed but has no cluster: create one as root with
    pg_createcluster <version> main --start"
    wait_until "$TIMEOUT" "PostgreSQL on $PG_HOST:$PG_PORT" pg_ready ||
        fail "PostgreSQL did not answer on $PG_HOST:$PG_PORT within ${TIMEOUT}s; see /var/log/postgresql/"
fi

if ((mq_needs_start)); then
    say "starting RabbitMQ (rabbitmq-server -detached)"
    as_root rabbitmq-server -detached
    wait_until "$TIMEOUT" "RabbitMQ on $MQ_HOST:$MQ_PORT" port_open "$MQ_HOST" "$MQ_PORT" ||
        fail "RabbitMQ did not answer on $MQ_HOST:$MQ_PORT within ${TIMEOUT}s; see /var/log/rabbitmq/"
fi

# RabbitMQ 3.10's supervisor of the quorum queues' at-least-once dead-letter workers
# (rabbit_fifo_dlx_sup) gives up after a few worker crashes in a row, which deleting a
# queue while its worker starts can cause; from then on every queue gridgov declares fails
# with 541 INTERNAL_ERROR until the rabbit application restarts. Check it, and restart the
# application (not the node: its data and vhosts stay) when it is gone.
if is_local "$MQ_HOST" && have rabbitmqctl; then
    healthy=$(as_root rabbitmqctl eval 'is_pid(whereis(rabbit_fifo_dlx_sup)).' 2>/dev/null \
              | tail -n 1)
    if [[ "$healthy" == "false" ]]; then
        say "RabbitMQ's dead-letter supervisor is down (541 on every quorum queue): restarting the rabbit application"
        as_root rabbitmqctl stop_app >/dev/null && as_root rabbitmqctl start_app >/dev/null ||
            fail "restarting the rabbit application failed; see /var/log/rabbitmq/"
        wait_until "$TIMEOUT" "RabbitMQ on $MQ_HOST:$MQ_PORT" port_open "$MQ_HOST" "$MQ_PORT" ||
            fail "RabbitMQ did not answer on $MQ_HOST:$MQ_PORT within ${TIMEOUT}s after the restart"
    fi
fi

# The management API (nameko's rabbit_config fixture makes a vhost per test through it)
# and the Prometheus endpoint are plugins; enabling them on a running node takes effect
# at once, and enabling an enabled plugin changes nothing.
if is_local "$MQ_HOST"; then
    if ! http_ok "$MGMT_URL" "$MQ_USERPASS" || ! port_open "$MQ_HOST" 15692; then
        if have rabbitmq-plugins; then
            say "enabling rabbitmq_management and rabbitmq_prometheus"
            deadline=$((SECONDS + TIMEOUT))
            until as_root rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus \
                    >/dev/null; do
                ((SECONDS < deadline)) || fail "rabbitmq-plugins enable failed; see /var/log/rabbitmq/"
                sleep 2
            done
        fi
    fi
fi
wait_until "$TIMEOUT" "RabbitMQ management API at $MGMT_URL" http_ok "$MGMT_URL" "$MQ_USERPASS" ||
    fail "RabbitMQ management API did not answer at $MGMT_URL within ${TIMEOUT}s (tests need it):
    rabbitmq-plugins enable rabbitmq_management; see /var/log/rabbitmq/"
if ! wait_until 30 "RabbitMQ Prometheus endpoint on $MQ_HOST:15692" port_open "$MQ_HOST" 15692; then
    say "warning: no Prometheus endpoint on $MQ_HOST:15692 (rabbitmq-plugins enable rabbitmq_prometheus)"
fi
