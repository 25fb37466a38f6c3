"""The analysis behind ``precplan validate`` on records with known answers (no torch)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.laws._file import load_law
from precplan.validate._report import _claim_optimal_precision, analyze
from precplan.cli._validate_report import markdown, print_report, report_json, tables

from reference import ASSUMED_C, KUMAR, P_STAR, kumar_factor

# A made-up base law and kumar2024's published precision and PTQ constants (Kumar et al. 2024,
# App. K Table 2), with the bundled assumed robustness constant.
E, A, B, ALPHA, BETA = 1.2, 60.0, 900.0, 0.35, 0.45
GAMMA_W, N_W = KUMAR["gamma_w"], KUMAR["n_w"]
C_T, G_D, G_N, G_POST, B_POST = (KUMAR[k] for k in ("C_T", "gamma_D", "gamma_N", "gamma_post", "b_post"))
C_X = ASSUMED_C


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


@pytest.mark.slow
def test_base_fit_recovers_the_generating_law(exact):
    c = exact.base["coefficients"]
    assert c["E"] == pytest.approx(E, rel=1e-3)
    assert c["alpha"] == pytest.approx(ALPHA, rel=1e-3) and c["beta"] == pytest.approx(BETA, rel=1e-3)
    assert exact.base["runs"] == 16


@pytest.mark.slow
def test_predictions_match_data_generated_by_the_law(exact):
    # Data generated with kumar2024's precision and PTQ constants: every prediction is exact.
    for kind in ("16-bit", "quantized", "ptq"):
        q = exact.quality[kind]
        assert q["r2"] > 0.9999 and q["max_abs_rel_error"] < 1e-3, kind
    assert exact.quality["quantized"]["n"] == 16 and exact.quality["ptq"]["n"] == 64


@pytest.mark.slow
def test_refit_recovers_gamma_w(exact):
    refit = {k.name: k for k in exact.constants}
    assert refit["gamma_w"].source == "fitted"
    assert refit["gamma_w"].fitted == pytest.approx(GAMMA_W, rel=0.02)
    assert refit["n_w"].fitted == pytest.approx(N_W, abs=0.02)
    assert refit["gamma_w"].law == GAMMA_W


@pytest.mark.slow
def test_claims_hold_on_law_generated_data(exact):
    claims = {c.claim.split()[0]: c for c in exact.claims}
    eff = claims["Lower"]
    assert eff.verdict == "holds"
    # the measured effective fraction is the law's f_w (the data were generated with it)
    for d in eff.details:
        assert d["n_eff_fraction"] == pytest.approx(f_w(d["weight_bits"]), rel=1e-3)
    assert claims["PTQ"].verdict == "holds"
    opt = claims["Compute-optimal"]
    assert opt.verdict == "agrees" and opt.details[0]["law"] == pytest.approx(P_STAR, abs=0.05)


@pytest.mark.slow
def test_claims_fail_when_the_data_contradict_them():
    recs = grid_records(ptq_sign=-1.0)  # PTQ damage falling with D
    for r in recs:  # and low-bit weights doing better than 16-bit
        if r["weight_bits"] < 16:
            r["loss"] = loss(r["params"], r["tokens"]) - 0.01 * (16 - r["weight_bits"])
    rep = analyze(recs, load_law("kumar2024"), grid="coarse")
    verdicts = {c.claim.split()[0]: c.verdict for c in rep.claims}
    assert verdicts["Lower"] == "does not hold"
    assert verdicts["PTQ"] == "does not hold"


@pytest.mark.slow
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


@pytest.mark.slow
def test_report_json_and_markdown(exact):
    doc = json.loads(json.dumps(report_json(exact)))
    assert doc["law"] == "kumar2024" and doc["refit"]["law"]["coefficients"]["gamma_w"]["source"] == "fitted"
    assert {"comparisons", "quality", "constants", "claims", "assumed"} <= set(doc)
    assert doc["assumed"] == ["C_w", "C_a", "C_kv"]  # PTQ predictions use the assumed robustness constants
    # validate shows no N*, D* at a budget: the fits' warnings about theirs stay out of the report
    assert not any("compute-optimal point" in w for w in exact.warnings + exact.base["warnings"])
    md = markdown(exact, command="precplan validate --report x")
    assert f"| gamma_w | {KUMAR['gamma_w']} |" in md and "## The paper's claims on this data" in md
    assert md.count("\n| ptq |") == 64
    np.testing.assert_allclose([c.measured for c in exact.comparisons][:1], [loss(1e5, 1e6)])


def brute_force_p_star(law) -> float:
    """argmax_P f_w f_a f_kv / P on a fine grid (Kumar et al. eq. 3 with offsets, normalized at 16)."""
    P = np.linspace(2.0, 16.0, 140001)
    f = np.ones_like(P)
    for op in ("w", "a", "kv"):
        x = kumar_factor(P, op, law.values)
        f *= np.where(x > 0, x, -np.inf) / kumar_factor(16.0, op, law.values)
    return float(P[np.argmax(np.where(np.isfinite(f), f / P, -np.inf))])


@pytest.mark.parametrize("scale", [0.80, 0.86, 0.95, 1.05, 1.10, 1.16])
def test_optimal_precision_claim_agrees_only_within_one_bit(scale):
    law = load_law("kumar2024")
    refit = law.with_coefficients(**{f"gamma_{op}": law.c(f"gamma_{op}") * scale for op in ("w", "a", "kv")})
    p_law, p_fit = brute_force_p_star(law), brute_force_p_star(refit)
    claim = _claim_optimal_precision(law, {"law": refit, "fitted": ["gamma_w", "gamma_a", "gamma_kv"]})
    assert claim.details[0]["fitted"] == pytest.approx(p_fit, abs=2e-4)
    assert claim.details[0]["law"] == pytest.approx(p_law, abs=2e-4)
    assert claim.verdict == ("agrees" if abs(p_fit - p_law) <= 1.0 else "differs")
    assert f"P* = {p_fit:.2f} bits" in claim.evidence and f"{p_law:.2f} bits" in claim.evidence
    assert f"{abs(p_fit - p_law):.2f} bits apart" in claim.evidence and "within +-1 bit" in claim.evidence


def test_optimal_precision_claim_covers_the_gap_the_old_rule_let_through():
    law = load_law("kumar2024")
    refit = law.with_coefficients(**{f"gamma_{op}": law.c(f"gamma_{op}") * 0.84 for op in ("w", "a", "kv")})
    gap = abs(brute_force_p_star(refit) - brute_force_p_star(law))
    assert 1.0 < gap < 1.5  # like the quick preset's 5.94 vs 7.00 bits
    assert _claim_optimal_precision(law, {"law": refit, "fitted": ["gamma_w"]}).verdict == "differs"


@pytest.mark.slow
def test_terminal_table_title_says_what_it_shows(exact):
    n_train, n_ptq = 16 + 16, 16 * 4  # grid_records: 16-bit and weight-quantized runs; 4 PTQ bits per 16-bit run
    assert len(exact.comparisons) == n_train + n_ptq

    def per_run(**kw):
        return next(t for t in tables(exact, **kw) if t[0].startswith("Every run"))

    title, _, rows, _ = per_run(max_rows=20, ptq_rows=False)
    assert len(rows) == 20 and all(row[0] != "ptq" for row in rows)
    assert title.endswith(f"(first 20 of {n_train} training-loss rows, none of the {n_ptq} PTQ rows;"
                          f" all {n_train + n_ptq} in report.md)")
    title, _, rows, _ = per_run(max_rows=40, ptq_rows=False)
    assert len(rows) == n_train and f"(all {n_train} training-loss rows, none of the {n_ptq} PTQ rows;" in title
    title, _, rows, _ = per_run(max_rows=50)
    assert len(rows) == 50 and title.endswith(f"(first 50 of {n_train + n_ptq} rows; all {n_train + n_ptq} in report.md)")
    title, _, rows, _ = per_run()
    assert len(rows) == n_train + n_ptq and title == "Every run: measured vs predicted loss (nats/token)"


@pytest.mark.slow
def test_rtn_ptq_against_a_gptq_law_is_flagged_next_to_the_ptq_numbers(exact, capsys):
    assert exact.ptq_note is None  # no ptq_method recorded: nothing claimed
    recs = [dict(r, ptq_method="rtn-per-channel") for r in grid_records()]
    rep = analyze(recs, load_law("kumar2024"), grid="coarse")
    note = rep.ptq_note
    assert "rtn-per-channel" in note and "GPTQ" in note and "biased" in note
    assert report_json(rep)["ptq_note"] == note
    md = markdown(rep)
    quality, per_run = md.split("## Measured vs predicted")[1], md.split("## Every run")[1]
    assert quality.index(note) < quality.index("## Every run")  # under the R^2 table, before the next one
    assert per_run.index(note) < per_run.index("## Precision and PTQ constants")
    assert "| post-training quantization * |" in md
    print_report(rep)
    out = " ".join(capsys.readouterr().out.split())
    assert "quantization *" in out and "round-to-nearest typically degrades more than GPTQ" in out
    # GPTQ runs, or a law whose PTQ constants were fitted (on whatever the data used): no note
    assert analyze([dict(r, ptq_method="gptq") for r in recs], load_law("kumar2024"), grid="coarse").ptq_note is None
    fitted = rep.refit["law"]
    assert fitted.coefficients["C_T"].source == "fitted" and analyze(recs, fitted, grid="coarse").ptq_note is None


def _two_seeds(recs: list[dict], delta: float, ptq_delta: float) -> list[dict]:
    """Every record twice, seeds 0 and 1, the losses moved by -delta and +delta (sample sd
    delta * sqrt(2)), the post-PTQ losses by the opposite of ptq_delta."""
    out = []
    for r in recs:
        for seed, sign in ((0, -1.0), (1, 1.0)):
            ptq = {b: v + sign * (delta - ptq_delta) for b, v in r["ptq"].items()}
            out.append({**r, "run_id": f"{r['run_id']}-s{seed}", "seed": seed, "loss": r["loss"] + sign * delta, "ptq": ptq})
    return out


@pytest.mark.slow
def test_seed_noise_is_measured_and_small_effects_stand_out_of_it():
    rep = analyze(_two_seeds(grid_records(), 0.001, 0.0005), load_law("kumar2024"), grid="coarse")
    assert rep.seeds["seeds_min"] == rep.seeds["seeds_max"] == 2
    assert rep.seeds["pooled_sd"] == pytest.approx(0.001 * math.sqrt(2), rel=1e-9)
    assert rep.seeds["pooled_sd_ptq"] == pytest.approx(0.0005 * math.sqrt(2), rel=1e-9)
    row = next(x for x in rep.seeds["rows"] if x["params"] == 1e5 and x["tokens"] == 1e6)
    assert row["seeds"] == 2 and row["mean_loss"] == pytest.approx(loss(1e5, 1e6), abs=1e-12)
    verdicts = {c.claim.split()[0]: c for c in rep.claims}
    assert verdicts["Lower"].verdict == "holds" and all(d["resolved"] for d in verdicts["Lower"].details)
    assert verdicts["PTQ"].verdict == "holds"
    md = markdown(rep)
    assert "## Seed noise: 2-2 seeds per configuration, pooled sd 0.0014 nats" in md


@pytest.mark.slow
def test_effects_within_seed_noise_are_not_resolved():
    # 3-bit weights cost ~0.07-0.24 nats here; a seed sd of 0.7 nats swamps that (2 standard errors = 1.4)
    rep = analyze(_two_seeds(grid_records(), 0.5, 0.5), load_law("kumar2024"), grid="coarse")
    claims = {c.claim.split()[0]: c for c in rep.claims}
    assert claims["Lower"].verdict == "not resolved" and "seed noise" in claims["Lower"].evidence
    assert all(d["resolved"] is False for d in claims["Lower"].details)
    assert claims["PTQ"].verdict == "not resolved"
    md = markdown(rep)
    assert "| not resolved |" in md  # the N_eff/N column says so instead of a ratio


@pytest.mark.slow
def test_one_seed_says_noise_is_unmeasured(exact):
    assert exact.seeds["pooled_sd"] is None
    assert any("one seed per configuration" in n for n in exact.notes)


@pytest.mark.slow
def test_refitted_constants_the_runs_cannot_identify_are_flagged():
    recs = grid_records()
    i = 1000
    for N in (1e5, 4e5):  # KV quantization with no effect at all: n_kv has nothing to fit
        for kv in (4, 6, 8):
            recs.append({**record(i, N, 2e6), "kv_bits": kv})
            i += 1
    two_levels = [r for r in recs if r["weight_bits"] in (3, 16)] + [r for r in recs if r["weight_bits"] == 8]
    rep = analyze(two_levels, load_law("kumar2024"), grid="coarse")
    flagged = {u["operand"]: u for u in rep.unidentified}
    assert set(flagged) == {"w", "kv"}
    assert "2 precision(s) only (3, 8 bits)" in flagged["w"]["reason"]
    assert "slide together" in flagged["kv"]["reason"] or "pinned" in flagged["kv"]["reason"]
    md = markdown(rep)
    assert "## Refitted constants these runs cannot identify" in md
    assert any(c.name == "n_kv" and c.source.startswith("fitted, NOT IDENTIFIED") for c in rep.constants)
    # the quick preset's shipped store: its refit puts n_kv at 77.7 (gamma_kv at the bound); flagged
    from pathlib import Path

    from precplan.validate._store import read_folders

    shipped, _ = read_folders([Path(__file__).resolve().parents[1] / "docs" / "validate-quick"])
    quick = analyze(shipped, load_law("kumar2024"), grid="coarse")
    # judged by the spread of the profile over gamma_kv, not by where the refit stopped (0.079/48.2 on
    # some machines, 0.96/77 on others): gamma_kv from 0.1 to 10 all fit within the noise
    assert [u["operand"] for u in quick.unidentified] == ["kv"]
    prof = quick.unidentified[0]["profile"]
    lo, hi = prof["gamma_range"]
    assert lo <= 0.1 and hi >= 10
    assert next(c for c in quick.claims if c.claim.startswith("Compute-optimal")).verdict == "not resolved"
    # four weight precisions with a clear effect: identified
    assert not [u for u in analyze(grid_records(), load_law("kumar2024"), grid="coarse").unidentified if u["operand"] == "w"]


def test_profile_pins_gamma_where_the_data_show_an_effect_and_not_where_they_do_not():
    """profile_gamma on runs generated with kumar2024's gamma_w = 2.6745, n_w = 0.3037 (App. K
    Table 2; f_w below, independent of Law): the gamma_w range the runs allow contains the
    generating value and is narrow; on runs with no weight effect at all it spans the whole grid."""
    from precplan.validate._report import PROFILE_GAMMAS, profile_gamma

    base = load_law("kumar2024").with_coefficients(E=E, A=A, B=B, alpha=ALPHA, beta=BETA)
    runs = [record(i, N, D, w) for i, (N, D, w) in enumerate((N, D, w) for N in (1e5, 4e5) for D in (2e6, 8e6) for w in (3, 4, 6, 8))]
    lo, hi = profile_gamma(runs, base, 0)["gamma_range"]
    assert GAMMA_W / 1.2 <= lo <= hi <= GAMMA_W * 1.2  # the grid steps by 10^(1/20) = 1.12x
    flat = [{**r, "loss": loss(r["params"], r["tokens"], 16)} for r in runs]
    prof = profile_gamma(flat, base, 0)
    assert prof["gamma_range"] == (PROFILE_GAMMAS[0], PROFILE_GAMMAS[-1]) and prof["at_edge"]


def test_report_json_records_the_ptq_method_and_every_quantizer_setting():
    """report.json says how its rows were quantized: the PTQ method and the settings the records
    carry (those written by validate/_sweep.make_record), one value where all runs share it."""
    cfg = {"quantizer": "absmax-symmetric-int", "weight_granularity": "channel", "activation_granularity": "token",
           "kv_granularity": "token", "ptq_bits": [3, 4, 6, 8], "ptq_method": "gptq",
           "gptq": {"damp": 0.01, "block": 128, "calibration_sequences": 128}}
    recs = [dict(r, ptq_method="gptq-per-channel", config=cfg) for r in grid_records()]
    doc = json.loads(json.dumps(report_json(analyze(recs, load_law("kumar2024"), grid="coarse"))))
    q = doc["quantizer"]
    assert q["ptq_method"] == "gptq-per-channel" and q["gptq"] == cfg["gptq"] and q["ptq_bits"] == [3, 4, 6, 8]
    assert {k: q[k] for k in ("quantizer", "weight_granularity", "activation_granularity", "kv_granularity")} == {
        k: cfg[k] for k in ("quantizer", "weight_granularity", "activation_granularity", "kv_granularity")}
    legacy = json.loads(json.dumps(report_json(analyze(grid_records(), load_law("kumar2024"), grid="coarse"))))
    assert legacy["quantizer"]["ptq_method"] is None  # a store that never said: not guessed
