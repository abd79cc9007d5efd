#!/usr/bin/env bash
# The system packages gridgov's make targets need, in ONE list: checked on every `make up`
# and `make test`, installed when we can, and used by .ci/run too.
#
#   scripts/system_deps.sh up      what `make up` needs (servers, venv, make, curl)
#   scripts/system_deps.sh test    that, plus what the tests call (chromium, promtool, nginx,
#                                  kubectl)
#
# Everything present: exits 0 at once (only dpkg-query runs). Something missing:
#   - as root (or with password-less sudo): apt-get installs it, then exits 0;
#   - otherwise: exits 2 at once, naming what is missing and the exact command to run,
#     instead of a dozen test failures minutes later.
# GRIDGOV_SYSTEM_DEPS=check makes it only check (never install), e.g. on a machine where
# the packages come from elsewhere. Uses bash and dpkg only: it runs before .venv exists.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# Debian package -> why gridgov needs it. ADD NEW ONES HERE, in the group that needs them.
UP_PACKAGES=(
    make              # the entry points
    curl              # scripts/ensure_services.sh asks RabbitMQ's management API
    postgresql        # the database (make up starts the local cluster)
    rabbitmq-server   # the broker (make up starts the local node)
    python3-venv      # .venv
)
TEST_PACKAGES=(
    chromium          # headless browser: tests/assessment_dashboard
    prometheus        # promtool: tests/test_promtool.py
    nginx-light       # nginx -t and the proxy's log format: tests/test_deploy_compose.py
    nodejs            # the OIDC provider of tests/registry/test_oidc.py (tests/oidc, npm ci)
)
# Commands the tests call that Debian's archive does not carry: checked, never installed.
declare -A TEST_COMMANDS=(
    [npm]="npm ci in tests/oidc (make oidc-provider); Debian: apt-get install npm \
(NodeSource's nodejs carries it)"
    [kubectl]="kubectl kustomize: tests/test_deploy_k8s.py; install it from the Kubernetes \
package repository (https://pkgs.k8s.io) or as a static binary on PATH"
)

say() { echo "system_deps: $*" >&2; }

usage() {
    echo "usage: scripts/system_deps.sh up|test" >&2
    exit 64
}

installed() {  # installed PKG: dpkg knows it as installed
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

can_install() {  # as root, or password-less sudo; never when only checking
    [[ "${GRIDGOV_SYSTEM_DEPS:-install}" != check ]] || return 1
    [[ $EUID -eq 0 ]] && return 0
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

install_packages() {  # install_packages PKG...
    say "installing Debian packages: $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

main() {
    [[ $# -eq 1 ]] || usage
    local packages=()
    case "$1" in
        up) packages=("${UP_PACKAGES[@]}") ;;
        test) packages=("${UP_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
        *) usage ;;
    esac
    if [[ -n "${GRIDGOV_SYSTEM_DEPS_EXTRA:-}" ]]; then  # tests add a package nobody has
        read -r -a extra <<<"$GRIDGOV_SYSTEM_DEPS_EXTRA"
        packages+=("${extra[@]}")
    fi

    local missing=() pkg
    for pkg in "${packages[@]}"; do
        installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        if ! can_install; then
            say "missing Debian packages: ${missing[*]}"
            say "install them as root, then run the make target again:"
            echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
            exit 2
        fi
        install_packages "${missing[@]}"
    fi

    if [[ "$1" == test ]]; then
        local cmd absent=0
        for cmd in "${!TEST_COMMANDS[@]}"; do
            command -v "$cmd" >/dev/null 2>&1 && continue
            say "missing command $cmd (${TEST_COMMANDS[$cmd]})"
            absent=1
        done
        ((absent == 0)) || exit 2
    fi
}

main "$@"
