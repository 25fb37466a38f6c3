"""Reading runs: CSV, JSONL, the validate results store, records; column mapping; bad input."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.fit._fit import load_runs
from precplan.fit._holdout import holdout_mask, parse_holdout
from precplan.fit._runs import parse_columns

from oracles import SARDANA_COLUMNS, SARDANA_RUNS



def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_sardana_csv_with_column_mapping():
    runs = load_runs(SARDANA_RUNS, SARDANA_COLUMNS)
    assert runs.n == 47
    first = SARDANA_RUNS.read_text().splitlines()[1].split(",")
    assert runs.params[0] == float(first[1]) and runs.tokens[0] == float(first[3]) and runs.loss[0] == float(first[5])
    assert runs.weight_bits is None and runs.post_loss is None
    assert runs.source["sha256"] == hashlib.sha256(SARDANA_RUNS.read_bytes()).hexdigest()
    assert runs.source["rows"] == 47


def test_parse_columns_handles_quotes_and_rejects_unknown_names():
    assert parse_columns('params=Parameters,tokens=Tokens,loss="Smoothed Loss"') == SARDANA_COLUMNS
    assert parse_columns("params=Parameters, loss=Smoothed Loss") == {"params": "Parameters", "loss": "Smoothed Loss"}
    with pytest.raises(PrecplanError, match="not a standard column"):
        parse_columns("size=Parameters")
    with pytest.raises(PrecplanError, match="STANDARD=NAME"):
        parse_columns("params")


def test_csv_with_bits_and_ptq_columns_and_count_suffixes(tmp_path):
    p = write(tmp_path, "runs.csv", "params,tokens,loss,weight_bits,post_bits,post_loss\n"
                                    "220M,16B,3.2,16,4,3.4\n110M,8B,3.5,int4,,\n")
    runs = load_runs(p)
    np.testing.assert_array_equal(runs.params, [220e6, 110e6])
    np.testing.assert_array_equal(runs.weight_bits, [16, 4])
    assert runs.post_bits[0] == 4 and math.isnan(runs.post_bits[1])
    assert runs.has_post.tolist() == [True, False]
    assert runs.high_precision.tolist() == [True, False]


def test_validate_store_records_expand_ptq_and_skip_diverged(tmp_path):
    records = [
        {"run_id": "a", "params": 3e7, "tokens": 1.5e9, "loss": 4.0, "weight_bits": 16, "activation_bits": 16,
         "kv_bits": 16, "ptq": {"4": 4.2, "8": 4.01}, "diverged": False, "seed": 0, "device": "cpu",
         "tokens_per_s": 1234.5, "config": {"lr": 6e-4}},
        {"run_id": "b", "params": 6e7, "tokens": 1.5e9, "loss": 3.8, "weight_bits": 4, "activation_bits": 16,
         "kv_bits": 16, "ptq": {}, "diverged": False},
        {"run_id": "c", "params": 6e7, "tokens": 3e9, "loss": None, "weight_bits": 3, "activation_bits": 3,
         "kv_bits": 16, "ptq": {}, "diverged": True},
    ]
    p = write(tmp_path, "store.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    runs = load_runs(p)
    assert runs.n == 3  # run a twice (post 4 and 8 bits), run b once, run c skipped
    np.testing.assert_array_equal(runs.post_bits[:2], [4, 8])
    np.testing.assert_array_equal(runs.post_loss[:2], [4.2, 4.01])
    assert math.isnan(runs.post_bits[2])
    assert any("1 diverged run skipped" in w for w in runs.warnings)
    # the same records as a list of dicts
    again = load_runs(records)
    np.testing.assert_array_equal(again.post_loss[:2], runs.post_loss[:2])


def test_counts_in_millions_are_flagged_and_real_stores_are_not():
    grid = [(n, d) for n in (30, 60, 110, 220) for d in (1500, 3000, 6000, 13000, 26000)]  # Kumar's grid in millions
    runs = load_runs([{"params": n, "tokens": d, "loss": 3 + 1 / n + 1 / d} for n, d in grid])
    [w] = [w for w in runs.warnings if "millions" in w]
    assert "largest model has 220" in w and "most tokens any run saw is 2.6e+04" in w and "220M = 2.2e8" in w
    only_params = load_runs([{"params": n, "tokens": d * 1e6, "loss": 3.0 + 1 / n} for n, d in grid])
    [w] = only_params.warnings
    assert "largest model has 220 params" in w and "any run saw" not in w
    only_tokens = load_runs([{"P": n * 1e6, "D": 1.5 * n / 30, "L": 3.0 + 1 / n} for n in (30, 60)],
                            columns={"params": "P", "tokens": "D", "loss": "L"})  # tokens in billions
    assert list(only_tokens.warnings) == [
        "counts look like millions? the most D any run saw is 3; laws use raw counts (220M = 2.2e8)"]
    # raw counts, however small, from precplan validate: the smallest preset and the shipped store
    from precplan.validate._presets import get_preset

    for name in ("smoke", "quick"):
        specs = get_preset(name).specs
        runs = load_runs([{"params": s.params, "tokens": s.tokens, "loss": 3.0 + i * 1e-3} for i, s in enumerate(specs)])
        assert not runs.warnings, name
    store = Path(__file__).resolve().parents[1] / "docs" / "validate-quick" / "runs.jsonl"
    assert not [w for w in load_runs(store).warnings if "millions" in w]


@pytest.mark.parametrize(
    "text, message",
    [
        ("params,tokens\n1e8,1e9\n", "no column 'loss'"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,nan\n", "line 3: loss is nan"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,\n", "line 3: loss is empty"),
        ("params,tokens,loss\n1e8,1e9,3.1\n-2e8,2e9,3.0\n", "params = -2e\\+08 must be positive"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,0,3.0\n", "tokens = 0 must be positive"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,3.0\n1e8,1e9,3.1\n", "line 2 and line 4 are the same run"),
        ("params,tokens,loss,post_loss\n1e8,1e9,3.1,3.3\n", "post_bits and post_loss go together"),
        ("params,tokens,loss,weight_bits\n1e8,1e9,3.1,99\n", "weight_bits = 99 is not valid"),
        ("params,tokens,loss\n1e8,1e9,abc\n", "not a number"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(PrecplanError, match=message):
        load_runs(write(tmp_path, "bad.csv", text))


def test_malformed_jsonl_names_the_line(tmp_path):
    p = write(tmp_path, "bad.jsonl", '{"params": 1e8, "tokens": 1e9, "loss": 3}\n{"params": 2e8,\n')
    with pytest.raises(PrecplanError, match="line 2: malformed JSON"):
        load_runs(p)


def test_holdout_expressions():
    runs = load_runs(SARDANA_RUNS, SARDANA_COLUMNS)
    assert parse_holdout("params>=1B") == ("params", ">=", 1e9)
    mask = holdout_mask(runs, "params>=1e9")
    np.testing.assert_array_equal(mask, runs.params >= 1e9)
    np.testing.assert_array_equal(holdout_mask(runs, largest=True), runs.params == 6.05e9)
    assert holdout_mask(runs) is None
    for bad, msg in (("params=>1", "expected COLUMN OP NUMBER"), ("flops>1", "not a column"),
                     ("params>1e15", "selects no runs"), ("params>0", "selects every run")):
        with pytest.raises(PrecplanError, match=msg):
            holdout_mask(runs, bad)


def test_a_validate_folder_reads_every_writers_file_once(tmp_path):
    """validate writes one store file per writer (runs-<host>-<pid>.jsonl): fit DIR merges them,
    one record per run id, whichever files hold it."""
    import json

    from precplan.fit import load_runs

    recs = [{"run_id": f"r{i}", "params": 1e6 * (i + 1), "tokens": 1e7, "loss": 3.5 - 0.1 * i} for i in range(4)]
    (tmp_path / "runs-a-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[:3]))
    (tmp_path / "runs-b-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[2:]))
    (tmp_path / "failed-a-1.jsonl").write_text(json.dumps({"run_id": "r9", "cause": "boom"}) + "\n")
    runs = load_runs(tmp_path)
    assert len(runs) == 4 and sorted(runs.params) == [1e6, 2e6, 3e6, 4e6]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrecplanError, match="no results store"):
        load_runs(tmp_path / "empty")
