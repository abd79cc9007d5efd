#!/bin/sh
# STAND-IN entrypoint (tests/compose/README.md): what the official rabbitmq image's does
# that compose relies on. Runs the server as the rabbitmq user, with the data volume owned
# by it; RABBITMQ_DEFAULT_USER/PASS/VHOST become conf.d settings.
set -eu
if [ "$(id -u)" = 0 ]; then
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
    conf=/etc/rabbitmq/conf.d/11-default-user.conf
    : > "$conf"
    [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER" >> "$conf"
    [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS" >> "$conf"
    [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && echo "default_vhost = $RABBITMQ_DEFAULT_VHOST" >> "$conf"
    chown rabbitmq:rabbitmq "$conf"
    # the Erlang cookie in HOME, readable by rabbitmq only (CLI tools run by `docker exec`
    # as root switch to rabbitmq through Debian's wrapper and read the same one)
    if [ ! -f /var/lib/rabbitmq/.erlang.cookie ] && [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]; then
        printf '%s' "$RABBITMQ_ERLANG_COOKIE" > /var/lib/rabbitmq/.erlang.cookie
        chown rabbitmq:rabbitmq /var/lib/rabbitmq/.erlang.cookie
        chmod 600 /var/lib/rabbitmq/.erlang.cookie
    fi
    if [ "$1" = rabbitmq-server ]; then
        shift
        exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
    fi
fi
exec "$@"
