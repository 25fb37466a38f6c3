"""The analysis behind ``precplan validate`` on records with known answers (no torch)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.lawfile import load_law
from precplan.validate.report import analyze
from precplan.validate.report_text import markdown, report_json

# A made-up base law and kumar2024's published precision constants (laws.md section 2).
E, A, B, ALPHA, BETA = 1.2, 60.0, 900.0, 0.35, 0.45
GAMMA_W, N_W = 2.6745, 0.3037
C_T, G_D, G_N, G_POST, B_POST, C_X = 0.0598, 0.5068, 0.3439, 0.5907, 1.1277, 0.5


def f_w(p: float) -> float:
    """Kumar et al. eq. 3 with the offset, normalized to 16 bits (independent of Law)."""
    raw = lambda q: 1 - math.exp(-q / GAMMA_W + N_W)  # noqa: E731
    return raw(p) / raw(16)


def loss(N: float, D: float, w: int = 16) -> float:
    return E + A * (N * f_w(w)) ** -ALPHA + B * D**-BETA


def delta_ptq(N: float, D: float, post: int) -> float:
    """Kumar et al. eq. 2 and 8-9 for a 16-bit-trained run (all three robustness factors)."""
    robust = (1 - math.exp(-C_X * (16 - post))) ** 3
    return C_T * math.exp(-post / G_POST + B_POST) * D**G_D / N**G_N * robust


def record(i: int, N: float, D: float, w: int = 16, ptq: dict | None = None, **extra) -> dict:
    return {"run_id": f"r{i}", "params": N, "tokens": D, "loss": loss(N, D, w), "weight_bits": w,
            "activation_bits": 16, "kv_bits": 16, "ptq": ptq or {}, "diverged": False, "seed": 0,
            "data": "synthetic", "device": "none", "preset": "test", **extra}


def grid_records(ptq_sign: float = 1.0) -> list[dict]:
    recs, i = [], 0
    for N in (1e5, 2e5, 4e5, 8e5):
        for D in (1e6, 2e6, 4e6, 8e6):
            ptq = {str(p): loss(N, D) + (delta_ptq(N, D, p) if ptq_sign > 0 else delta_ptq(N, 1e13 / D, p))
                   for p in (3, 4, 6, 8)}
            recs.append(record(i, N, D, 16, ptq))
            i += 1
    for N in (1e5, 4e5):
        for D in (2e6, 8e6):
            for w in (3, 4, 6, 8):
                recs.append(record(i, N, D, w))
                i += 1
    return recs


@pytest.fixture(scope="module")
def exact():
    return analyze(grid_records(), load_law("kumar2024"), grid="coarse")


def test_base_fit_recovers_the_generating_law(exact):
    c = exact.base["coefficients"]
    assert c["E"] == pytest.approx(E, rel=1e-3)
    assert c["alpha"] == pytest.approx(ALPHA, rel=1e-3) and c["beta"] == pytest.approx(BETA, rel=1e-3)
    assert exact.base["runs"] == 16


def test_predictions_match_data_generated_by_the_law(exact):
    # Data generated with kumar2024's precision and PTQ constants: every prediction is exact.
    for kind in ("16-bit", "quantized", "ptq"):
        q = exact.quality[kind]
        assert q["r2"] > 0.9999 and q["max_abs_rel_error"] < 1e-3, kind
    assert exact.quality["quantized"]["n"] == 16 and exact.quality["ptq"]["n"] == 64


def test_refit_recovers_gamma_w(exact):
    refit = {k.name: k for k in exact.constants}
    assert refit["gamma_w"].source == "fitted"
    assert refit["gamma_w"].fitted == pytest.approx(GAMMA_W, rel=0.02)
    assert refit["n_w"].fitted == pytest.approx(N_W, abs=0.02)
    assert refit["gamma_w"].law == GAMMA_W


def test_claims_hold_on_law_generated_data(exact):
    claims = {c.claim.split()[0]: c for c in exact.claims}
    eff = claims["Lower"]
    assert eff.verdict == "holds"
    # the measured effective fraction is the law's f_w (the data were generated with it)
    for d in eff.details:
        assert d["n_eff_fraction"] == pytest.approx(f_w(d["weight_bits"]), rel=1e-3)
    assert claims["PTQ"].verdict == "holds"
    opt = claims["Compute-optimal"]
    assert opt.verdict == "agrees" and opt.details[0]["law"] == pytest.approx(7.0, abs=0.05)


def test_claims_fail_when_the_data_contradict_them():
    recs = grid_records(ptq_sign=-1.0)  # PTQ damage falling with D
    for r in recs:  # and low-bit weights doing better than 16-bit
        if r["weight_bits"] < 16:
            r["loss"] = loss(r["params"], r["tokens"]) - 0.01 * (16 - r["weight_bits"])
    rep = analyze(recs, load_law("kumar2024"), grid="coarse")
    verdicts = {c.claim.split()[0]: c.verdict for c in rep.claims}
    assert verdicts["Lower"] == "does not hold"
    assert verdicts["PTQ"] == "does not hold"


def test_diverged_runs_are_reported_not_fitted():
    recs = grid_records()
    recs.append({**record(999, 1e5, 1e6, 3), "loss": None, "ptq": {}, "diverged": True})
    rep = analyze(recs, load_law("kumar2024"), grid="coarse")
    assert rep.diverged == ["r999"] and rep.runs == len(recs)
    assert any("diverged" in w for w in rep.warnings)
    assert all(c.run_id != "r999" for c in rep.comparisons)


def test_too_few_runs_degrade_gracefully():
    recs = [record(0, 1e5, 1e6), record(1, 2e5, 1e6), record(2, 1e5, 1e6, 3)]
    rep = analyze(recs, load_law("kumar2024"), grid="coarse")
    assert rep.base is None and any("base law not fitted" in w for w in rep.warnings)
    assert all(c.predicted is None for c in rep.comparisons)
    assert {c.verdict for c in rep.claims} <= {"holds", "not tested"}
    json.dumps(report_json(rep))  # still a valid report
    assert "Every run" in markdown(rep)


def test_needs_a_precision_law():
    with pytest.raises(PrecplanError, match="precision"):
        analyze(grid_records(), load_law("hoffmann2022"))


def test_report_json_and_markdown(exact):
    doc = json.loads(json.dumps(report_json(exact)))
    assert doc["law"] == "kumar2024" and doc["refit"]["law"]["coefficients"]["gamma_w"]["source"] == "fitted"
    assert {"comparisons", "quality", "constants", "claims", "assumed"} <= set(doc)
    assert doc["assumed"] == ["C_w", "C_a", "C_kv"]  # PTQ predictions use the assumed robustness constants
    md = markdown(exact, command="precplan validate --report x")
    assert "| gamma_w | 2.6745 |" in md and "## The paper's claims on this data" in md
    assert md.count("\n| ptq |") == 64
    np.testing.assert_allclose([c.measured for c in exact.comparisons][:1], [loss(1e5, 1e6)])
