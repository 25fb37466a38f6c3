"""Numbers and precisions as people write them."""

from __future__ import annotations

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.precision import parse_precision, parse_precision_list
from precplan.units import format_count, parse_bytes, parse_count, parse_count_or_sweep


@pytest.mark.parametrize(
    "text,value",
    [("7B", 7e9), ("1.5T", 1.5e12), ("220M", 2.2e8), ("1e21", 1e21), ("2e12", 2e12), ("30k", 3e4),
     ("16b", 16e9), ("1_000", 1000.0), (" 3.5 G ", 3.5e9), (".5M", 5e5)],
)
def test_parse_count(text: str, value: float) -> None:
    assert parse_count(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    "text,value",
    [("880MB", 8.8e8), ("1.5GiB", 1.5 * 2**30), ("8GB", 8e9), ("512KiB", 512 * 1024), ("1e9", 1e9), ("2TB", 2e12)],
)
def test_parse_bytes(text: str, value: float) -> None:
    assert parse_bytes(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", ["-7B", "0", "abc", "7X", "nan", "inf", "", "1e400"])
def test_parse_count_rejects(text: str) -> None:
    with pytest.raises(PrecplanError):
        parse_count(text)


def test_parse_bytes_rejects_unknown_unit() -> None:
    with pytest.raises(PrecplanError, match="unknown unit"):
        parse_bytes("8GQ")


def test_sweep_is_log_spaced_and_inclusive() -> None:
    values = parse_count_or_sweep("1e19:1e25:13")
    assert len(values) == 13
    assert values[0] == pytest.approx(1e19) and values[-1] == pytest.approx(1e25)
    assert np.allclose(np.diff(np.log10(values)), 0.5)
    assert list(parse_count_or_sweep("7B")) == [7e9]
    for bad in ("1e19:1e25", "1e25:1e19:5", "1e19:1e25:1", "1e19:1e25:x"):
        with pytest.raises(PrecplanError):
            parse_count_or_sweep(bad)


@pytest.mark.parametrize(
    "text,bits,kind",
    [("8", 8, "int"), ("4.5", 4.5, "int"), ("int4", 4, "int"), ("fp8-e4m3", 8, "float"), ("fp8-e5m2", 8, "float"),
     ("fp6-e3m2", 6, "float"), ("fp4-e2m1", 4, "float"), ("bf16", 16, "float"), ("fp16", 16, "float"),
     ("fp32", 32, "float"), ("E4M3", 8, "float"), ("16bit", 16, "int")],
)
def test_parse_precision(text: str, bits: float, kind: str) -> None:
    p = parse_precision(text)
    assert p.bits == bits and p.kind == kind


def test_float_format_counts_sign_bit() -> None:
    p = parse_precision("fp8-e4m3")
    assert (p.exponent_bits, p.mantissa_bits) == (4, 3)
    assert "1 sign + 4 exponent + 3 mantissa" in p.describe()


@pytest.mark.parametrize("text", ["0.5", "65", "int0", "fp8-e5m3", "mxfp6", "posit8", "-4"])
def test_parse_precision_rejects(text: str) -> None:
    with pytest.raises(PrecplanError):
        parse_precision(text)


def test_precision_list() -> None:
    assert [p.bits for p in parse_precision_list("4,8,16")] == [4, 8, 16]
    with pytest.raises(PrecplanError):
        parse_precision_list(",")


def test_format_count() -> None:
    assert format_count(7e9) == "7B" and format_count(2.2e8) == "220M" and format_count(1.5e12) == "1.5T"


def test_sweep_count_takes_counts_as_people_write_them():
    from precplan.units import parse_count_or_sweep

    assert len(parse_count_or_sweep("1e19:1e25:1e3", "--budget")) == 1000
    assert len(parse_count_or_sweep("1e19:1e25:10K", "--budget")) == 10_000
    for bad in ("2.5", "1e5", "1", "x"):
        with pytest.raises(PrecplanError, match="whole number from 2 to 10000"):
            parse_count_or_sweep(f"1e19:1e25:{bad}", "--budget")
