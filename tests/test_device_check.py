"""Issue 23: the GPU checks are one prepared call, proven on the CPU at smoke sizes."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_device_check_runs_end_to_end_on_the_cpu(tmp_path):
    env = {**os.environ, "DEVICE": "cpu", "SIZE": "smoke", "OUT": str(tmp_path), "BUDGET_S": "90"}
    res = subprocess.run(["bash", "scripts/device-check.sh"], cwd=ROOT, capture_output=True, text=True, env=env,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    parts = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(parts) == {"tests", "bench", "epochs", "runs"}
    for name, rec in parts.items():
        assert rec["device"] == "cpu" and rec["commit"] and rec["device_name"], name
    for name in ("tests", "bench", "epochs"):
        assert parts[name]["ok"], parts[name].get("error")
    assert parts["tests"]["result"]["returncode"] == 0 and parts["tests"]["result"]["counts"]["passed"] >= 1
    assert parts["bench"]["result"]["tf32"] is False and {r["library"] for r in parts["bench"]["result"]["rows"]} >= {
        "sae", "pot", "geomloss"}
    assert len(parts["epochs"]["result"]) == 14          # every (model, prior) row of the table
    assert (tmp_path / "runs.tar.gz").exists()


def test_a_missing_out_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    res = subprocess.run(["bash", "scripts/device-check.sh"], cwd=ROOT, capture_output=True, text=True,
                         env={**env, "DEVICE": "cpu", "SIZE": "smoke"})
    assert res.returncode != 0 and "OUT" in res.stderr and "Traceback" not in res.stderr
