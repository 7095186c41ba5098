"""`make bench`'s machinery at toy sizes: the rows it writes, not how fast anything is (speed is
measured by `make bench`, never asserted here)."""
import importlib.util
import json

import pytest

from sae.studies import bench
from sae.utils import repo_root


def _cli():
    spec = importlib.util.spec_from_file_location("bench_cli", repo_root() / "benchmarks" / "sinkhorn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_writes_every_library_on_the_same_problem(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert _cli().main(["--sizes", "32", "--repeat", "1", "--no-memory", "--no-steps", "--no-epochs",
                        "--out", str(out)]) == 0
    assert {"commit", "machine", "settings", "duration_s", "rows"} <= json.loads(out.read_text()).keys()
    res = bench.BenchResult.from_json(json.loads(out.read_text()))
    assert {r.library for r in res.rows} == {"sae", "pot", "geomloss"}
    assert all(r.ms > 0 and r.n == 32 for r in res.rows)
    same = [r for r in res.rows if r.library == "pot"]              # the same sharp cost as ours
    assert all(r.rel_diff_vs_sae < 1e-4 for r in same)
    assert res.command.startswith("python benchmarks/sinkhorn.py --sizes 32")
    assert [s.n for s in bench.speedups(res)] == [32] and bench.speedups(res)[0].pot_over_sae_forward > 0
    assert "POT forward / ours" in capsys.readouterr().out


def test_training_steps_and_epochs_rows():
    steps = bench.training_steps(("ae", "sae"), repeat=1, log=None)
    assert [r.model for r in steps] == ["ae", "sae"] and steps[0].over_ae == 1.0
    assert steps[1].L == 50 and steps[1].hidden == [512, 512] and steps[1].ms > 0
    epochs = bench.training_epochs(rounds=1, profile="smoke", log=None)
    assert [(r.model, r.prior) for r in epochs] == [("ae", "sphere"), ("sae", "sphere")]
    assert epochs[0].over_ae == 1.0 and all(r.s > 0 and r.rounds == 1 for r in epochs)
    text = bench.table(bench.BenchResult("p", "c", {}, "cpu", "cpu", 1.0, "cmd", [], training_steps=steps,
                                         training_epochs=epochs))
    assert "training step sae" in text and "training epoch sae" in text


def test_stored_results_name_their_provenance():
    for res in bench.load_stored():
        assert res.command and res.machine and res.duration_s > 0 and len(res.commit) == 40
        assert not res.commit.endswith("-dirty")
        assert bench.describe(res).startswith(res.device_name)
