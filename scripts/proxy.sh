#!/usr/bin/env bash
# The reverse proxy for `make up` (issue 12): deploy/proxy/nginx.conf run by the local
# nginx (Debian nginx-light) with every upstream pointed at 127.0.0.1 and the services'
# ports, listening on 127.0.0.1:${PROXY_HTTP_PORT:-8080}: ONE origin for the grid workers'
# app (/app/), the dashboard and /api/<service>/, as in compose (docs/APP.md).
#
#   scripts/proxy.sh start | stop
#
# Files: var/run/proxy/ (rendered config, pid, temp), var/log/proxy.log (access, redacted
# as in production), var/log/proxy-error.log. Without nginx it says so and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

say() { echo "proxy: $*"; }
DIR="$PWD/var/run/proxy"
PORT="${PROXY_HTTP_PORT:-8080}"
NGINX="$(command -v nginx || PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)"

stop() {
    local pid
    pid="$(cat "$DIR/nginx.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -QUIT "$pid" && say "stopped (pid $pid)"
    fi
    rm -f "$DIR/nginx.pid"
}

start() {
    if [[ -z "$NGINX" ]]; then
        say "nginx is missing (Debian: apt-get install nginx-light): no proxy, so the app at"
        say "/app/ cannot sign in; the services answer on their own ports"
        return 0
    fi
    stop
    mkdir -p "$DIR" var/log
    local conf svc upstreams=""
    conf="$(cat deploy/proxy/nginx.conf)"
    # the include of deploy/proxy/site-compose.conf, written inline: each service at
    # 127.0.0.1:<its port> (an address, so no resolver), as tools/local_proxy.py does
    for svc in registry events dispatch assessment notify; do
        upstreams+="    map \$scheme \$gridgov_$svc { default 127.0.0.1:$(port_of "$svc"); }"$'\n'
    done
    conf="${conf//    include gridgov-site.conf;/$upstreams}"
    conf="${conf//listen 8080;/listen 127.0.0.1:$PORT;}"
    conf="${conf//\/tmp\//$DIR/}"
    conf="${conf//access_log \/dev\/stdout redacted;/access_log $PWD/var/log/proxy.log redacted;}"
    conf="${conf//error_log \/dev\/stderr warn;/error_log $PWD/var/log/proxy-error.log warn;}"
    if [[ $EUID -eq 0 ]]; then  # its workers would be nobody, who cannot write var/
        conf="user root;"$'\n'"$conf"
    fi
    printf '%s\n' "$conf" >"$DIR/nginx.conf"
    "$NGINX" -q -c "$DIR/nginx.conf" -p "$DIR" -t
    "$NGINX" -c "$DIR/nginx.conf" -p "$DIR"
    say "http://127.0.0.1:$PORT/ (app /app/, dashboard /dashboard, APIs /api/<service>/)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: scripts/proxy.sh start|stop" >&2; exit 64 ;;
esac
