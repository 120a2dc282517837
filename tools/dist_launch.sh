#!/usr/bin/env bash
# Usage: tools/dist_launch.sh NPROC SCRIPT [args...]
# Runs SCRIPT in NPROC processes per node through torchrun; the tools pick NCCL on GPUs
# and gloo on CPU. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as in mmagic.
set -euo pipefail
NPROC=$1
SCRIPT=$2
PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$SCRIPT" "${@:3}"
