#!/usr/bin/env bash
# The prepared accelerator check, from a bare checkout: the device tests of the suite, then
# benchmarks/gpu_check.py (counts against the CPU, speed, a short fine-tune), results in
# benchmarks/results/gpu_check.json. Usage: sh benchmarks/gpu_check.sh [cuda|cpu|mps]
set -uo pipefail
cd "$(dirname "$0")/.."
device=${1:-cuda}
export PYTHONPATH="$PWD/model:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
python3 -c "import torch, numpy, scipy, PIL, tifffile" 2>/dev/null || python3 -m pip install -q -e . || exit 1
python3 -c "import torch; print('torch', torch.__version__, '| cuda:', torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
status=0
if python3 -c "import pytest, PySide6, pytestqt" 2>/dev/null; then
    python3 -m pytest -q -p no:cacheprovider tests/library/test_inference.py tests/cli/test_cli.py -k "cuda or device" || status=1
else
    echo "device tests skipped: pytest, PySide6 or pytest-qt is not installed here"
fi
python3 benchmarks/gpu_check.py --device "$device" || status=1
exit $status
