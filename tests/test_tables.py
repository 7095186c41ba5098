"""Reader tables: seed means with t intervals rounded to their noise; whether a rerun agrees in kind."""
import math

import pandas as pd
import pytest

from sae.engine import sweeps
from sae.studies import comparison, tables
from sae.studies.stats import RowMean


def test_decimals_follow_the_first_significant_figure_of_the_half_width():
    assert tables.decimals(27.0) == 0 and tables.decimals(7.4) == 0
    assert tables.decimals(0.54) == 1 and tables.decimals(0.034) == 2


def test_a_mean_is_shown_with_its_interval_at_the_precision_its_noise_supports():
    text = tables.with_interval(RowMean(159.23, 4.0, 3, 2.0))   # se 2, t(2) quantile 4.30: ± 8.6
    assert text == "159 [151, 168]"
    assert tables.with_interval(RowMean(3.1234, 0.0, 1, math.inf)) == "3.12"


def _runs(fids_by_row, seeds=(0, 1, 2)):
    return pd.DataFrame([{"method": m, "prior": p, "seed": s, "fid": f + s, "fid_se": 0.5,
                          "reconstruction_error": 80.0 + s, "latent_mmd_x1000": 1.0 + 0.1 * s}
                         for (m, p), f in fids_by_row.items() for s in seeds])


def test_the_table_names_rows_as_a_reader_does_and_sets_the_papers_fid_beside():
    rows = {(m, p): 10.0 * k for k, (m, p, _) in enumerate(sweeps.TABLE_ROWS)}
    t = comparison.table_with_intervals(_runs(rows))
    assert t["row"].iloc[0] == "AE, Gaussian" and "SAE, sphere" in t["row"].tolist()
    assert "AE, sphere" in t["row"].tolist()
    sae = t[t["row"] == "SAE, sphere"].iloc[0]
    assert sae["paper FID (UAI)"] == 12.5 and sae["seeds"] == 3 and "[" in sae["FID"]


def test_agreement_in_kind_is_a_one_sided_kendall_test():
    rows = {(m, p): 10.0 * k for k, (m, p, _) in enumerate(sweeps.TABLE_ROWS)}
    same = tables.agreement(_runs(rows), _runs(rows), ["method", "prior"])
    assert same.agrees and same.tau == pytest.approx(1.0) and "agrees in kind" in same.sentence()
    reversed_ = {k: -v for k, v in rows.items()}
    other = tables.agreement(_runs(reversed_), _runs(rows), ["method", "prior"])
    assert not other.agrees and "does not agree" in other.sentence()
    few = tables.agreement(_runs(dict(list(rows.items())[:2])), _runs(rows), ["method", "prior"])
    assert not few.agrees and "no ordering" in few.sentence()


def test_the_build_says_whether_it_is_the_evidence_or_a_live_check():
    stored = comparison.stored_sweep("table", dataset="mnist_full")
    assert "live check" in comparison.build_role("quick", stored)
    assert "this build is the evidence" in comparison.build_role("paper", stored)


def test_the_stored_real_floor_loads_as_typed_rows():
    from sae.studies import fid_protocol

    floor = fid_protocol.stored_real_floor("mnist_full")
    assert floor is not None and len(floor.commit) == 40 and floor.command.startswith("python -m sae floor")
    assert {r.against for r in floor.rows} == {"training digits", "binarised test digits"}
    assert all(0 < r.precision <= 1 and 0 < r.recall <= 1 and r.fid >= 0 for r in floor.rows)
