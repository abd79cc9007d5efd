#!/usr/bin/env bash
# Migrate, start the five services in the background, wait for their /healthz, load the
# demo district if the database is empty, and print where everything lives.
#
#   scripts/up.sh        (run by `make up`, after .venv, .env and the servers are ready)
#
# Per service: pid file var/run/<svc>.pid, log var/log/<svc>.log (appended to). A service
# whose pid file names a live process of that service is left alone. Each service runs
#   .venv/bin/nameko run --config services/<svc>/config.yaml services.<svc>.service
# from the repository root, in its own session (Ctrl-C on the terminal does not reach it),
# with .env exported. Stop them with scripts/down.sh (`make down`).
#
# Environment: GRIDGOV_SERVICES (list, default the five), UP_TIMEOUT (seconds to wait for
# all /healthz, default 120), DEMO_SCOPE (scope shown in the token hint),
# SIMULATE_CASES_PER_MINUTE (the simulated district's case rate, default 6, 0 = off),
# DEMO_HISTORY (1: load the demo district's six months of history, docs/DEMO.md; 0 = off).
set -euo pipefail
cd "$(dirname "$0")/.."
# Files this script and the processes it starts create (logs, pid files, the simulated
# departments' output) are not world-readable: 0640 / 0750 (issue 10).
umask 027

read -r -a SERVICES <<<"${GRIDGOV_SERVICES:-registry events dispatch assessment notify}"
UP_TIMEOUT="${UP_TIMEOUT:-120}"
DEMO_SCOPE="${DEMO_SCOPE:-district:320505}"
RUN_DIR=var/run
LOG_DIR=var/log
PY=.venv/bin/python

say() { echo "up: $*"; }
die() { echo "up: ERROR: $*" >&2; exit 1; }

[[ -x .venv/bin/nameko ]] || die ".venv is missing or incomplete: run 'make up' (it creates it)"
[[ -f .env ]] || die ".env is missing: run 'make up' (or python3 scripts/gen_env.py)"
set -a
# shellcheck disable=SC1091
. ./.env
set +a
mkdir -p "$RUN_DIR"

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
secure_log_dir "$LOG_DIR"

port_open() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' 127.0.0.1 "$1" 2>/dev/null
}

http_ok() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
    else
        "$PY" scripts/wait_for.py --quiet --timeout 0 "$1" >/dev/null 2>&1
    fi
}

show_log_tail() {
    echo "----- last 25 lines of $LOG_DIR/$1.log -----" >&2
    tail -n 25 "$LOG_DIR/$1.log" >&2 || true
    echo "-----" >&2
}

# 1. Database, roles and migrations (every service's Alembic history, run as the owner role;
#    each service's own role from GRIDGOV_<SVC>_DB_URL, gridgov_common/platform/db_roles.py).
say "migrating the database (python -m gridgov_common.platform.migrate upgrade)"
"$PY" -m gridgov_common.platform.migrate upgrade || die "migrations failed (output above)"

# 1b. The bus: exchanges, the dead-letter retention policy and the demo departments' queues
#     (a broker that imported deploy/rabbitmq definitions has them already; idempotent).
say "declaring the bus (python -m tools.bus_users setup)"
"$PY" -m tools.bus_users setup || die "declaring the bus failed (output above)"

# Behind the reverse proxy (scripts/proxy.sh) the refresh cookie's path is the proxy's
# (docs/SECURITY.md "Sign-in and sessions"; compose sets the same).
export GRIDGOV_AUTH_REFRESH_COOKIE_PATH="${GRIDGOV_AUTH_REFRESH_COOKIE_PATH:-/api/registry/auth}"

# 2. Start what is not running yet.
declare -A PORT=()
for svc in "${SERVICES[@]}"; do
    [[ -f "services/$svc/config.yaml" && -f "services/$svc/service.py" ]] ||
        die "services/$svc/config.yaml or service.py is missing"
    PORT[$svc]="$(port_of "$svc")"
    [[ -n "${PORT[$svc]}" ]] || die "no port for $svc: set its _HTTP_PORT or fix its config.yaml"
    if pid="$(running_pid "$svc")"; then
        say "$svc already running (pid $pid, port ${PORT[$svc]})"
        continue
    fi
    rm -f "$RUN_DIR/$svc.pid"
    if port_open "${PORT[$svc]}"; then
        die "port ${PORT[$svc]} of $svc is taken by another process (not started by make up):
    stop it (ss -ltnp 'sport = :${PORT[$svc]}' shows which), or choose another port with
    $(tr '[:lower:]' '[:upper:]' <<<"$svc")_HTTP_PORT in .env"
    fi
    echo "===== $(date -Is) make up: starting $svc on port ${PORT[$svc]} =====" >>"$LOG_DIR/$svc.log"
    # setsid: a session of its own; as a background job of a script the child is no group
    # leader, so setsid and nohup exec in place and $! is the nameko process itself.
    # env -u: its own database role only, the PII keys only for registry and notify
    # shellcheck disable=SC2046
    nohup setsid env $(private_env_unset "$svc") .venv/bin/nameko run \
        --config "services/$svc/config.yaml" \
        "services.$svc.service" >>"$LOG_DIR/$svc.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$svc.pid"
    say "started $svc (pid $!, port ${PORT[$svc]}, log $LOG_DIR/$svc.log)"
done

# 3. Wait, bounded, until every /healthz answers; a service that exits fails at once.
pending=("${SERVICES[@]}")
deadline=$((SECONDS + UP_TIMEOUT))
while ((${#pending[@]})); do
    still=()
    for svc in "${pending[@]}"; do
        if ! running_pid "$svc" >/dev/null; then
            show_log_tail "$svc"
            die "$svc exited during start-up; its log is $LOG_DIR/$svc.log (make logs SVC=$svc).
    Fix the cause, then 'make up' again ('make down' stops the others)."
        fi
        if http_ok "http://127.0.0.1:${PORT[$svc]}/healthz"; then
            say "$svc is healthy"
        else
            still+=("$svc")
        fi
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
        for svc in "${pending[@]}"; do show_log_tail "$svc"; done
        die "no answer within ${UP_TIMEOUT}s from /healthz of: ${pending[*]}.
    Logs: $(printf "$LOG_DIR/%s.log " "${pending[@]}")(make logs SVC=<name>).
    They are still running; 'make down' stops everything."
    fi
    sleep 1
done

# 4. A demo district when the database is empty.
say "loading the demo district if the registry is empty"
# shellcheck disable=SC2046
env $(private_env_unset registry) "$PY" -m services.registry.cli load-demo --if-empty ||
    die "loading the demo district failed (output above); the services are running"

# 4b. Its history (docs/DEMO.md): about six months of cases, patrols, meetings and spot
#     checks, so KPIs, circulars and the half-year grades show real values on first start.
#     Only for the demo district, each service loading its own part as its own role, events
#     before dispatch (dispatch's last change of each case is followed by events). Once:
#     --if-empty. DEMO_HISTORY=0 turns it off.
# shellcheck disable=SC2046
if [[ "${DEMO_HISTORY:-1}" == "0" ]]; then
    say "demo history off (DEMO_HISTORY=0)"
elif env $(private_env_unset registry) "$PY" -m services.registry.cli has-demo; then
    today="$(TZ=Asia/Shanghai date +%F)"
    for svc in events dispatch assessment; do
        say "loading the demo district's history into $svc if it has none"
        # shellcheck disable=SC2046
        env $(private_env_unset "$svc") "$PY" -m "services.$svc.demo_history" --if-empty \
            --until "$today" || die "loading $svc's demo history failed (output above)"
    done
else
    say "no demo district in the registry: no demo history"
fi

# 4c. Sign-in for the demo district's staff (issue 12): a generated password each, issued
#     at the first start only, printed once and kept in var/demo-passwords.tsv (0600);
#     never fixed in code. `python -m services.registry.cli demo-passwords` issues new ones.
DEMO_PASSWORDS=var/demo-passwords.tsv
# shellcheck disable=SC2046
if env $(private_env_unset registry) "$PY" -m services.registry.cli has-demo; then
    # shellcheck disable=SC2046
    env $(private_env_unset registry) "$PY" -m services.registry.cli demo-passwords \
        --if-none --output "$DEMO_PASSWORDS" >"$LOG_DIR/demo-passwords.out" ||
        die "issuing the demo staff's passwords failed"
    if [[ -s "$DEMO_PASSWORDS" ]]; then
        say "demo staff sign in with these (all of them in $DEMO_PASSWORDS):"
        grep -m1 neighbourhood_grid_worker "$DEMO_PASSWORDS" || true
        grep -m1 community_grid_chief "$DEMO_PASSWORDS" || true
        grep -m1 town_grid_chief "$DEMO_PASSWORDS" || true
        grep -m1 department_officer "$DEMO_PASSWORDS" || true
        grep -m1 district_admin "$DEMO_PASSWORDS" || true
        grep -m1 ops_viewer "$DEMO_PASSWORDS" || true
    fi
fi

# 5. Simulated departments (the reference adapter, one per department): they receive
#    their assignments on their own routing keys, report in and report results.
dept_pid="$(cat "$RUN_DIR/departments.pid" 2>/dev/null || true)"
if [[ -n "$dept_pid" ]] && kill -0 "$dept_pid" 2>/dev/null; then
    say "simulated departments already running (pid $dept_pid)"
else
    # shellcheck disable=SC2046
    setsid env $(private_env_unset departments) "$PY" -m tools.department_adapter.simulate \
        --output "$LOG_DIR/departments.jsonl" >>"$LOG_DIR/departments.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/departments.pid"
    say "started simulated departments (pid $!, assignments in $LOG_DIR/departments.jsonl)"
fi

# 5b. A simulated district day (tools/case_simulator): grid workers report cases,
#     communities and towns handle theirs, return visits close them, so the dashboard shows
#     the demo district live. SIMULATE_CASES_PER_MINUTE=0 turns it off.
sim_pid="$(cat "$RUN_DIR/simulator.pid" 2>/dev/null || true)"
if [[ "${SIMULATE_CASES_PER_MINUTE:-6}" == "0" ]]; then
    say "case simulation off (SIMULATE_CASES_PER_MINUTE=0)"
elif [[ -n "$sim_pid" ]] && kill -0 "$sim_pid" 2>/dev/null; then
    say "case simulation already running (pid $sim_pid)"
else
    # shellcheck disable=SC2046
    setsid env $(private_env_unset simulator) "$PY" -m tools.case_simulator --per-minute "${SIMULATE_CASES_PER_MINUTE:-6}" \
        >>"$LOG_DIR/simulator.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/simulator.pid"
    say "started the case simulation (pid $!, ${SIMULATE_CASES_PER_MINUTE:-6} cases a minute, log $LOG_DIR/simulator.log)"
fi

# 5c. The reverse proxy: one origin for the grid workers' app, the dashboard and the APIs.
scripts/proxy.sh start || say "the proxy did not start (var/log/proxy-error.log)"

# 6. Where everything lives.
host=127.0.0.1
mq_host=127.0.0.1
echo
printf '%-11s %-7s %-24s %-36s %-32s %s\n' service pid API OpenAPI metrics log
for svc in "${SERVICES[@]}"; do
    base="http://$host:${PORT[$svc]}"
    printf '%-11s %-7s %-24s %-36s %-32s %s\n' "$svc" "$(running_pid "$svc" || echo '?')" \
        "$base/" "$base/openapi.json" "$base/metrics" "$LOG_DIR/$svc.log"
done
echo
echo "health:     http://$host:<port>/healthz (process), /readyz (database and broker)"
echo "RabbitMQ:   management http://$mq_host:15672/ (guest/guest), metrics http://$mq_host:15692/metrics"
echo "PostgreSQL: ${GRIDGOV_DB_URL%%://*}://…@${GRIDGOV_DB_URL##*@} (each service as its own role gridgov_<service>)"
docs=(README.md deploy/README.md)
for f in docs/*.md; do [[ -e "$f" ]] && docs+=("$f"); done
echo "docs:       ${docs[*]}"
echo
echo "A bearer token for an operator (or: TOKEN=\$(make -s token ROLE=district_admin SCOPE=$DEMO_SCOPE)):"
echo "    set -a; . ./.env; set +a"
echo "    TOKEN=\$(.venv/bin/python -m gridgov_common.kernel.auth mint --role district_admin --scope $DEMO_SCOPE --sub ops-1)"
echo "    curl -H \"Authorization: Bearer \$TOKEN\" http://$host:${PORT[registry]:-8001}/grids"
echo
echo "Operations dashboard: http://$host:${PORT[assessment]:-8004}/dashboard"
echo "    sign in by pasting a token (make -s token ROLE=ops_viewer SCOPE=$DEMO_SCOPE) into its"
echo "    form; never put a token in a URL's query (?token= is refused: access logs keep URLs)"
echo
echo "Grid workers' app: http://$host:${PROXY_HTTP_PORT:-8080}/app/ (through the proxy; demo staff"
echo "    sign in with the passwords above; docs/APP.md)"
echo "Workbenches (departments, communities, towns, the district): http://$host:${PROXY_HTTP_PORT:-8080}/desk/"
echo "    (the same passwords; docs/DESK.md)"
echo "Residents' report page: http://$host:${PROXY_HTTP_PORT:-8080}/report (no account; docs/RESIDENT-REPORTS.md)"
echo
echo "logs: make logs [SVC=registry] (var/log, mode 0640)    stop: make down"
