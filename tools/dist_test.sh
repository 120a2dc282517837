#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON (see dist_launch.sh).
set -euo pipefail
exec "$(dirname "$0")/dist_launch.sh" "$3" "$(dirname "$0")/test.py" "$1" "$2" \
    --launcher pytorch "${@:4}"
