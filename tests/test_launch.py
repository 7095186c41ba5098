"""The sweep launchers without a cluster: plans, bad input, --status, cost estimates.

The SLURM launcher itself is exercised on a real one-node SLURM by `make cluster-test`
(scripts/cluster_test.py), which CI runs."""
import json

import pytest

from sae.__main__ import main
from sae.engine import sweeps
from sae.studies import launch

SMALL = ["train.epochs=1", "hidden=16", "data.n_train=64", "data.n_test=32", "train.batch_size=16"]


def test_plan_lists_every_run_of_both_sweeps_once():
    p = launch.plan("paper")
    seeds = len(sweeps.seeds("paper"))
    assert (p["sweep"] == "table").sum() == len(sweeps.TABLE_ROWS) * seeds
    assert (p["sweep"] == "ablation").sum() == len(sweeps.ABLATION_ROWS) * seeds
    assert all(g["run"].is_unique for _, g in p.groupby("sweep"))
    assert set(p["dataset"]) == {"mnist_full"} and set(p["epochs"]) == {100}
    # the ablation's Sinkhorn and Hungarian "sample, β = 100" variants are the table's SAE and HAE on
    # the sphere: the same settings, so the same run (trained once in a shared --out)
    shared = set(p[p["sweep"] == "table"]["run"]) & set(p[p["sweep"] == "ablation"]["run"])
    assert len(shared) == 2 * seeds


@pytest.mark.parametrize("args, message", [
    (["--launcher", "pbs"], "--launcher must be one of"),
    (["--launcher", "slurm", "--time", "0"], "--time must be an integer >= 1"),
    (["--launcher", "slurm", "--concurrent", "0"], "--concurrent must be an integer >= 1"),
])
def test_bad_launcher_settings_name_the_setting(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "table", "--profile", "smoke", "--out", str(tmp_path / "s"), *args])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()                  # nothing written


def test_slurm_launcher_without_slurm_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(launch.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit):
        main(["sweep", "table", "--profile", "smoke", "--out", str(tmp_path / "s"), "--launcher", "slurm"])
    err = capsys.readouterr().err
    assert "needs SLURM's `sbatch`" in err and "--launcher local" in err and not (tmp_path / "s").exists()


def test_unknown_partition_lists_the_real_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(launch.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(launch, "partitions", lambda: ["cpu", "gpu"])
    with pytest.raises(SystemExit):
        main(["sweep", "table", "--profile", "smoke", "--out", str(tmp_path / "s"), "--launcher", "slurm",
              "--partition", "a100"])
    assert "--partition 'a100' does not exist on this cluster; its partitions are cpu, gpu" in capsys.readouterr().err


def test_status_of_a_local_sweep_and_of_no_sweep(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "table", "--out", str(tmp_path / "none"), "--status"])
    assert "holds no sweep" in capsys.readouterr().err
    sets = [a for s in SMALL for a in ("--set", s)]
    assert main(["sweep", "table", "--profile", "smoke", "--seeds", "0", *sets, "--out", str(tmp_path / "s")]) == 0
    capsys.readouterr()
    assert main(["sweep", "table", "--out", str(tmp_path / "s"), "--status"]) == 0
    assert f"{len(sweeps.TABLE_ROWS)} complete" in capsys.readouterr().out


def test_status_reports_a_failed_job_with_its_last_lines(tmp_path, monkeypatch):
    """A job that left the queue without a result: failed when its error output holds a traceback,
    cut otherwise (killed, out of time), with the output's last lines."""
    rows = [r for r, _ in [(launch._rel(c, tmp_path), c) for _, c in sweeps.configs("table", "smoke", [0])][:3]]
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": rows}))
    (tmp_path / launch.JOBS).write_text(json.dumps({rows[0]: {"job_id": "7_0"}, rows[1]: {"job_id": "7_1"}}))
    for job, text in (("7_0", "Traceback (most recent call last):\n  ...\nTrainingError: loss became nan"),
                      ("7_1", "slurmstepd: error: *** JOB 7 CANCELLED DUE TO TIME LIMIT ***")):
        (tmp_path / "slurm" / job).mkdir(parents=True)
        (tmp_path / "slurm" / job / f"{job}_0_log.err").write_text(text)
    monkeypatch.setattr(launch, "_queue", lambda ids: {})       # neither job is queued any more
    st = {r.run: r for r in launch.status(tmp_path)}
    assert st[rows[0]].state == "failed" and "loss became nan" in st[rows[0]].detail
    assert st[rows[1]].state == "cut" and "TIME LIMIT" in st[rows[1]].detail
    assert st[rows[2]].state == "not submitted"


def test_status_names_the_local_process_that_trains_a_run(tmp_path):
    """A run held by a live process here (its lock) is 'training', with the holder; a stale lock
    (a process that is gone) is not."""
    import os
    import socket

    from sae.engine.runlock import LOCK

    rows = [launch._rel(c, tmp_path) for _, c in sweeps.configs("table", "smoke", [0])][:2]
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": rows}))
    for rel, pid in zip(rows, (os.getpid(), 2 ** 22 + 7)):
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / LOCK).write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "since": "now"}))
    st = {r.run: r for r in launch.status(tmp_path)}
    assert st[rows[0]].state == "training" and f"pid {os.getpid()}" in st[rows[0]].detail
    assert st[rows[1]].state == "not submitted"


def test_cost_estimate_scales_measured_epochs(tmp_path):
    assert launch.cost_estimate(stored=tmp_path) is None
    folder = tmp_path / "sweep"
    rel = "runs/sae-sphere-mnist_full-x"
    (folder / rel).mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"sweep": "table", "complete": [rel], "commit": "abc" * 10,
                                                      "machine": {"cpu_count": 2, "torch_threads": 1}}))
    (folder / rel / "config.json").write_text(json.dumps({"model": "sae", "prior": "sphere", "seed": 0, "beta": 100.0, "latent_dim": 10,
                                                            "data": {"name": "mnist_full"}}))
    (folder / rel / "curve.json").write_text(json.dumps([{"seconds": 10.0}, {"seconds": 12.0}, {"seconds": 11.0}]))
    (folder / rel / "metrics.json").write_text(json.dumps({"provenance": {"wall_seconds_this_process": 133.0,
                                                                          "train_seconds": 33.0}}))
    est = launch.cost_estimate(epochs=100, seeds=5, stored=tmp_path)
    row = next(r for r in est.rows if (r.sweep, r.model, r.prior) == ("table", "sae", "sphere"))
    assert row.s_per_epoch == 11.0 and row.runs == 5 and row.threads == 1
    assert row.h_per_run == pytest.approx((11.0 * 100 + 100.0) / 3600)
    table = est.table
    assert table.iloc[-1]["h, all runs"] == pytest.approx(table["h, all runs"].iloc[:-1].sum()) == est.total_hours
    assert "sweep (1 runs" in est.source
    # resumed with two threads: the run records it, and the estimate keeps the one-thread runs
    rel2 = "runs/sae-sphere-mnist_full-y"
    (folder / rel2).mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"sweep": "table", "complete": [rel, rel2], "commit": "abc" * 10,
                                                      "machine": {"cpu_count": 2, "torch_threads": 1}}))
    (folder / rel2 / "config.json").write_text((folder / rel / "config.json").read_text())
    (folder / rel2 / "curve.json").write_text(json.dumps([{"seconds": 7.0}]))
    (folder / rel2 / "metrics.json").write_text(json.dumps({"provenance": {
        "wall_seconds_this_process": 50.0, "train_seconds": 7.0, "machine": {"torch_threads": 2}}}))
    est = launch.cost_estimate(epochs=100, seeds=5, stored=tmp_path)
    row = next(r for r in est.rows if (r.sweep, r.model, r.prior) == ("table", "sae", "sphere"))
    assert row.s_per_epoch == 11.0 and row.threads == 1 and row.runs_measured == 1
    assert "1/2 thread(s) per run" in est.source


def test_stored_cluster_record_is_read_when_present(tmp_path):
    assert launch.stored_cluster_test(tmp_path) is None
    (tmp_path / launch.CLUSTER_RECORD).write_text(json.dumps({"check": "make cluster-test"}))
    assert launch.stored_cluster_test(tmp_path)["check"] == "make cluster-test"


def test_reuse_copies_identical_complete_runs_instead_of_training(tmp_path, capsys):
    """The ablation's Sinkhorn and Hungarian 'sample, β = 100' runs are the table's SAE and HAE on
    the sphere: with --reuse they are copied from the table's folder, and only the others train."""
    sets = [a for s in SMALL for a in ("--set", s)]
    table, abl = tmp_path / "table", tmp_path / "ablation"
    assert main(["sweep", "table", "--profile", "smoke", "--seeds", "0", *sets, "--out", str(table)]) == 0
    assert main(["sweep", "ablation", "--profile", "smoke", "--seeds", "0", *sets, "--out", str(abl),
                 "--reuse", str(table)]) == 0
    manifest = json.loads((abl / "manifest.json").read_text())
    assert sorted(manifest["reused"]) == sorted(r for r in manifest["runs"] if (table / r).exists())
    assert len(manifest["reused"]) == 2 and set(manifest["reused"].values()) == {"table"}
    for rel in manifest["reused"]:
        assert (abl / rel / "metrics.json").read_bytes() == (table / rel / "metrics.json").read_bytes()
    assert manifest["status"] == "complete" and not list(abl.rglob("*.copying"))
    with pytest.raises(SystemExit):
        main(["sweep", "ablation", "--profile", "smoke", "--out", str(tmp_path / "x"), "--reuse", str(tmp_path)])
    assert "holds no sweep" in capsys.readouterr().err
