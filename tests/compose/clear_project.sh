#!/usr/bin/env bash
# Remove every container, network and volume of one compose project, found by the label
# compose puts on each (com.docker.compose.project), not through `compose down`: that
# needs the project's env file and directory, which an interrupted run in another
# checkout (a CI clone under /tmp) took with it. Prints what it removed.
#   tests/compose/clear_project.sh gridgov-compose-test
set -euo pipefail
project=${1:?usage: clear_project.sh PROJECT}
label="label=com.docker.compose.project=$project"
removed=0
remove() {  # kind, ids...
    local kind=$1; shift
    [[ $# -gt 0 ]] || return 0
    echo "clear_project: removing $# leftover ${kind}(s) of $project" >&2
    docker "$kind" rm $([[ $kind == container ]] && echo -f) "$@" >/dev/null
    removed=$((removed + $#))
}
mapfile -t ids < <(docker container ls -aq --filter "$label")
remove container "${ids[@]}"
mapfile -t ids < <(docker network ls -q --filter "$label")
remove network "${ids[@]}"
mapfile -t ids < <(docker volume ls -q --filter "$label")
remove volume "${ids[@]}"
echo "clear_project: $removed leftover object(s) of $project removed" >&2
