#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py args...]
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT, PYTHON (see dist_launch.sh).
set -euo pipefail
exec "$(dirname "$0")/dist_launch.sh" "$2" "$(dirname "$0")/train.py" "$1" \
    --launcher pytorch "${@:3}"
