"""Sweeps as arrays (issue 15): ``Planner.sweep`` / ``precplan optimize --budget A:B:K``.

Each row of a sweep is checked against an independent derivation (Hoffmann et al. 2022's eq. 4
with Kumar et al. 2024's effective parameters, from tests/reference.py), against the plan of its
budget solved alone, and across the three outputs (``--json`` rows, ``--json-columns``, CSV)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from precplan import load_law
from precplan.optimize import make_planner

from reference import KUMAR, tied_factor


from precplan.cli import app


def invoke(runner, *args):
    result = runner.invoke(app, ["optimize", *args])
    assert result.exit_code == 0, result.output
    return result


def kumar_split(budget: float, bits: float) -> tuple[float, float, float]:
    """Hoffmann et al. 2022, eq. 4 on the budget line N D = 16 C / (6 P), with the parameter term
    A (N f(P))^-alpha (Kumar et al. 2024, sec. 4.3): N*, D*, loss."""
    c = KUMAR
    al, be = c["alpha"], c["beta"]
    a_eff = c["A"] * tied_factor(bits) ** -al
    K = 16.0 * budget / (6.0 * bits)
    G = (al * a_eff / (be * c["B"])) ** (1.0 / (al + be))
    N = G * K ** (be / (al + be))
    D = K / N
    return N, D, c["E"] + a_eff * N ** -al + c["B"] * D ** -be


def test_sweep_rows_match_the_closed_form_and_the_plan_alone():
    law = load_law("kumar2024")
    budgets = np.logspace(19, 25, 25)
    sweep = make_planner(law, has_budget=True).sweep(budgets)
    assert len(sweep) == 25 and set(sweep.bits[:, 0]) == {7.0}
    for i in (0, 11, 24):
        N, D, L = kumar_split(budgets[i], 7.0)
        assert sweep.params[i] == pytest.approx(N, rel=1e-9)
        assert sweep.tokens[i] == pytest.approx(D, rel=1e-9)
        assert sweep.loss[i] == pytest.approx(L, rel=1e-12)
        alone = make_planner(law, has_budget=True).plans([budgets[i]])[0]
        assert sweep[i] == alone
        # the 16-bit comparison row is the 16-bit closed form
        N16, _, L16 = kumar_split(budgets[i], 16.0)
        row = next(a for a in sweep[i].comparison if a.label == "16-bit")
        assert row.params == pytest.approx(N16, rel=1e-9) and row.loss == pytest.approx(L16, rel=1e-12)


def test_sweeps_longer_than_a_chunk_equal_their_budgets_solved_alone():
    law = load_law("kumar2024")
    planner = make_planner(law, has_budget=True, inference_tokens=1e12, memory=2e10)
    CHUNK = planner.chunk
    budgets = np.logspace(20, 24, CHUNK + 7)
    calls = []
    sweep = planner.sweep(budgets, advance=calls.append)
    assert calls == [CHUNK, 7] and len(sweep) == CHUNK + 7
    for i in (0, CHUNK - 1, CHUNK, CHUNK + 6):
        assert sweep[i] == planner.plans([budgets[i]])[0]


def test_memory_limit_note_counts_the_plans_it_caps():
    """--memory 20GB at 7-bit weights caps N at 20e9 * 8 / 7 = 22.9B parameters: budgets whose
    unconstrained N* (Hoffmann eq. 4) is larger are capped, and the sweep says how many, once."""
    law = load_law("kumar2024")
    budgets = np.logspace(21, 24, 31)
    sweep = make_planner(law, has_budget=True, memory=20e9).sweep(budgets)
    cap = 20e9 * 8 / 7
    capped = sum(kumar_split(b, 7.0)[0] > cap for b in budgets)
    assert 0 < capped < 31
    assert int(sweep.binds.sum()) == capped
    notes = [n for n in sweep.notes if n.startswith("the memory limit binds")]
    assert len(notes) == 1 and f"({capped} of 31 plans at budgets" in notes[0]
    # every capped plan has N = cap; each plan still carries its own note
    assert sweep.params[sweep.binds] == pytest.approx(np.full(capped, cap), rel=1e-9)
    last = sweep[30]
    assert "the memory limit binds: N is the largest model that fits" in last.notes


def test_json_rows_columns_and_csv_agree(runner):
    args = ("--budget", "1e20:1e24:9", "--inference-tokens", "1e12")
    rows = json.loads(invoke(runner, *args, "--json").stdout)
    cols = json.loads(invoke(runner, *args, "--json-columns").stdout)
    table = list(csv.DictReader(io.StringIO(invoke(runner, *args, "--csv", "-").stdout)))
    assert rows["count"] == cols["count"] == len(rows["rows"]) == len(table) == 9
    assert rows["columns"] == list(cols["columns"]) == list(table[0])
    for name in ("budget", "params", "tokens", "loss", "total_flops", "loss_gap_at_16-bit"):
        by_rows = [r[name] for r in rows["rows"]]
        assert by_rows == cols["columns"][name]
        assert [float(r[name]) for r in table] == by_rows  # CSV keeps every digit (repr)
    # notes and warnings once, for the sweep; each row has no notes of its own
    assert rows["notes"] == cols["notes"] and any("inference FLOPs" in n for n in rows["notes"])
    assert "notes" not in rows["rows"][0]
    # lifetime FLOPs: (6/16) N D P + (2/16) N T P (Kumar et al. 2024 sec. 4.3; Sardana et al. 2024)
    for r in rows["rows"]:
        P = r["bits_weights"]
        assert r["total_flops"] == pytest.approx(6 / 16 * r["params"] * r["tokens"] * P + 2 / 16 * r["params"] * 1e12 * P, rel=1e-9)
        assert r["total_flops"] == pytest.approx(r["budget"], rel=1e-9)


def test_infeasible_comparison_rows_are_null_in_json(runner):
    """At a target loss that 4-bit training cannot reach the 4-bit row has no plan: null, not NaN
    (NaN is not JSON)."""
    law = load_law("kumar2024")
    # kumar2024's loss floor at 4 bits (infinite data): E + A (N f(4))^-alpha -> E; with a fixed
    # 30M-parameter model the 4-bit row cannot reach 3.8 nats while 8 bits can.
    out = invoke(runner, "--target-loss", "3.8", "--params", "30M", "--precisions", "4,8", "--json-columns").stdout
    data = json.loads(out)
    N = 30e6
    floor4 = KUMAR["E"] + KUMAR["A"] * (N * tied_factor(4.0)) ** -KUMAR["alpha"]
    assert floor4 > 3.8  # so the 4-bit row is infeasible
    assert data["columns"]["total_flops_at_4-bit"] == [None]
    assert isinstance(data["columns"]["total_flops_at_8-bit"][0], float)
    assert law.id == data["law"]


def test_big_sweep_table_shows_a_sample_and_says_so(runner):
    out = invoke(runner, "--budget", "1e19:1e25:500").stdout
    assert "60 of 500 budgets shown" in out and "1e+19" in out and "1e+25" in out


def test_json_and_json_columns_together_are_refused(runner):
    result = runner.invoke(app, ["optimize", "--budget", "1e21", "--json", "--json-columns"])
    assert result.exit_code == 2 and "pick one" in result.output


def test_sweep_table_shows_intervals_of_a_sampled_law(runner):
    """besiroglu2024 carries coefficient samples: each row's N*, D* and loss get their interval,
    and the interval brackets the point value."""
    out = invoke(runner, "--law", "besiroglu2024", "--budget", "1e20:1e22:3").stdout
    assert "central 80% interval over the law's coefficient samples" in out
    data = json.loads(invoke(runner, "--law", "besiroglu2024", "--budget", "1e20:1e22:3", "--json-columns").stdout)
    c = data["columns"]
    for k in ("params", "tokens", "loss"):
        assert all(lo <= x <= hi for lo, x, hi in zip(c[f"{k}_lo"], c[k], c[f"{k}_hi"]))
    assert data["uncertainty"]["samples"] == 1000


def test_with_ptq_a_budget_is_a_ceiling_where_n_cannot_grow():
    """After PTQ the loss rises with D past its minimum (Kumar et al. 2024, eq. 2), so with N
    fixed or capped more budget must never give a worse plan: the plan stops at the post-PTQ
    optimum (brute force: tests/oracles.ptq_argmin) and says it leaves budget unspent."""
    from oracles import ptq_argmin

    law = load_law("kumar2024")
    fixed = make_planner(law, has_budget=True, params=100e6, inference_precision=4).sweep(np.logspace(19, 23, 9))
    assert np.all(np.diff(fixed.loss) <= 1e-12)
    b = fixed.bits[-1]
    r = float(law.robustness(4.0, *b))
    assert fixed.tokens[-1] == pytest.approx(ptq_argmin(KUMAR, 100e6, 4.0, *b, robustness=r), rel=1e-6)
    assert fixed.spent[-1] < 0.01 and any("stopping at the post-PTQ optimum" in n for n in fixed[-1].notes)
    capped = make_planner(law, has_budget=True, serve_memory=8e9, inference_precision=4).sweep(np.logspace(22, 25, 7))
    assert np.all(np.diff(capped.loss) <= 1e-12)
    assert capped.binds[-1] and capped.spent[-1] < 0.1
    assert any("stopping at the post-PTQ optimum" in n and "of 7 plans" in n for n in capped.notes)


def test_sweep_indexing_and_bad_budgets():
    import precplan

    sweep = precplan.plan_sweep(np.logspace(20, 24, 100))
    part = sweep[::10]
    assert isinstance(part, precplan.Sweep) and len(part) == 10
    assert part.params == pytest.approx(sweep.params[::10], rel=0) and part[3] == sweep[30]
    assert len(sweep[[1, 2]]) == 2 and "Sweep of 100 plans" in repr(sweep)
    with pytest.raises(IndexError, match="valid: -100..99"):
        sweep[100]
    with pytest.raises(precplan.PrecplanError, match="budget 1 is nan"):
        precplan.plan_sweep([1e21, float("nan")])
