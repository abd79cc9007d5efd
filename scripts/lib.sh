# Helpers shared by up.sh and down.sh (sourced; needs RUN_DIR set).

port_of() {  # port_of SVC -> $<SVC>_HTTP_PORT, else the default in services/<svc>/config.yaml
    local var default
    var="$(tr '[:lower:]' '[:upper:]' <<<"$1")_HTTP_PORT"
    default="$(grep -o "{${var}:[0-9]*}" "services/$1/config.yaml" 2>/dev/null | tr -dc '0-9')"
    echo "${!var:-$default}"
}

secure_log_dir() {  # secure_log_dir DIR: logs readable by owner and group only (issue 10)
    # The request logs once held bearer tokens; whatever a log holds is no one else's
    # business: DIR 0750, every file in it 0640 (also those an older run left 0644).
    mkdir -p "$1"
    chmod 0750 "$1"
    find "$1" -maxdepth 1 -type f -exec chmod 0640 {} +
}

running_pid() {  # running_pid SVC -> pid of our live process of SVC, or fail
    local pidfile="$RUN_DIR/$1.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "services\.$1\.service" || return 1
    echo "$pid"
}

private_env_unset() {  # private_env_unset SVC -> "-u NAME" arguments for env(1)
    # What a process started by make up must not inherit from .env (docs/SECURITY.md): the
    # administrator's database URL, every database login but its own service's, and the
    # personal-data keys unless it is a service that decrypts (registry, notify), and the
    # broker and Grafana passwords that only docker-compose.yml uses (make up is guest).
    local name own
    own="GRIDGOV_$(tr '[:lower:]' '[:upper:]' <<<"$1")_DB_URL"
    for name in $(compgen -e); do
        case "$name" in
            GRIDGOV_DB_URL | GRIDGOV_DB_PASSWORD | GRIDGOV_*_DB_PASSWORD) echo "-u $name" ;;
            GRIDGOV_*_DB_URL) [[ "$name" == "$own" ]] || echo "-u $name" ;;
            GRIDGOV_PII_*) [[ "$1" == registry || "$1" == notify ]] || echo "-u $name" ;;
            GRIDGOV_AMQP_PASSWORD* | GRIDGOV_BUS_PASSWORD_* | GRIDGOV_GRAFANA_PASSWORD)
                echo "-u $name" ;;
        esac
    done
}
