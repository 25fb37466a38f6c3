"""The PTQ laws on model families they were not fit on (precplan.ptq._holdout, docs/ptq_holdout.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from precplan.cli import app
from precplan.io import bundled_dir
from precplan.laws import load_law
from precplan.ptq import FITTED, calibration_rows, family_errors, holdout_errors, leave_one_family_out, ptq_evidence


def _constants(name: str) -> dict:
    data = yaml.safe_load((bundled_dir("laws") / f"{name}.yaml").read_text())
    return {k: v["value"] for k, v in data["coefficients"].items()}, data


def _eq2(c: dict, N: float, D: float, post: float) -> float:
    """Kumar et al. 2024 eq. 2 for a 16-bit-trained model, from a law file's constants (not Law)."""
    return c["C_T"] * math.exp(-post / c["gamma_post"] + c["b_post"]) * D ** c["gamma_D"] / N ** c["gamma_N"]


def test_family_errors_match_eq2_by_hand():
    """kumar2024 never saw the real-model rows: per family, the median of eq. 2 / ln(ppl after /
    ppl before) and the count within 2x, computed here from the law file and the CSV rows."""
    c, _ = _constants("kumar2024")
    rows = [m for m in calibration_rows() if m.ppl_after > m.ppl_before]
    got = {e.family: e for e in family_errors("kumar2024")}
    assert sum(e.rows for e in got.values()) == len(rows) == 54
    for fam in {m.family for m in rows}:
        ratio = np.array([_eq2(c, m.params, m.tokens, m.bits) / math.log(m.ppl_after / m.ppl_before) for m in rows if m.family == fam])
        assert got[fam].rows == ratio.size
        assert got[fam].median_ratio == pytest.approx(float(np.median(ratio)), rel=1e-9)
        assert got[fam].within_2x == int(np.sum((ratio >= 0.5) & (ratio <= 2)))


def test_calibrated_law_ships_its_held_out_errors_and_family_bootstrap_samples():
    """kumar2024-ptq-real records its leave-one-family-out errors (laws show prints them) and
    carries coefficient samples of its four fitted constants, so its answers have intervals; its
    point constants are quoted to 2 significant digits, with the fold spread in the notes."""
    law = load_law("kumar2024-ptq-real")
    label, errs = holdout_errors(law)
    assert label.startswith("leave one family out") and [e.family for e in errs] == ["OPT", "BLOOM", "LLaMA-1", "Llama-2", "Llama-3"]
    assert sum(e.rows for e in errs) == 54
    assert law.has_samples and set(law.samples.names) == set(FITTED) and law.samples.count >= 30
    assert "bootstrap over model families" in law.samples.method
    for k in FITTED:
        assert float(f"{law.c(k):.2g}") == law.c(k)  # no false precision
        lo, hi = np.percentile(law.samples.column(k), [10, 90])
        assert lo < hi
    ev = ptq_evidence("kumar2024", 8e9, 15e12, 4, "int4")
    lo, hi = ev.calibrated_interval
    assert lo < ev.calibrated_degradation < hi
    out = CliRunner().invoke(app, ["laws", "show", "kumar2024-ptq-real"], env={"COLUMNS": "80"}).stdout
    assert "leave one family out" in " ".join(out.split())
    for e in errs:
        assert any(e.family in line and f"{e.median_ratio:.2f}" in line for line in out.splitlines())


@pytest.mark.slow
def test_recorded_held_out_errors_are_reproduced_by_refitting():
    """The law file's provenance.holdout is what leave_one_family_out computes now."""
    recorded = {e.family: e for e in holdout_errors("kumar2024-ptq-real")[1]}
    for e in leave_one_family_out():
        r = recorded[e.family]
        assert (e.rows, e.within_2x) == (r.rows, r.within_2x)
        assert e.median_ratio == pytest.approx(r.median_ratio, abs=0.01)


@pytest.mark.slow
def test_shipped_samples_are_the_family_bootstrap_they_say():
    """The law's samples are docs/ptq_holdout.py --bootstrap N's refits (draws are sequential, so
    the first rows of any run are the rows of a shorter one)."""
    from precplan.ptq import family_bootstrap

    law = load_law("kumar2024-ptq-real")
    np.testing.assert_allclose(family_bootstrap(3, seed=2026), law.samples.values[:3], rtol=1e-4)
