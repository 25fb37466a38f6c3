"""Formats as people write them (precplan.formats): element, block and scale, bits per element."""

from __future__ import annotations

import pytest

from precplan.errors import PrecplanError
from precplan.formats import parse_format
from precplan.precision import parse_precision
from reference_formats import MX_BLOCK, MX_ELEMENT_BITS, MX_SCALE_BITS, NV_BLOCK, NV_SCALE_BITS


@pytest.mark.parametrize("name", sorted(MX_ELEMENT_BITS))
def test_mx_formats_follow_the_ocp_table(name):
    f = parse_format(name)
    assert (f.block, f.scale, f.scale_format, f.scale_bits) == (MX_BLOCK, "mx", "e8m0", MX_SCALE_BITS)
    assert f.bits == MX_ELEMENT_BITS[name]
    assert f.bits_per_element == MX_ELEMENT_BITS[name] + MX_SCALE_BITS / MX_BLOCK


def test_mxfp4_and_nvfp4_bits_per_element_include_the_scale():
    mx, nv = parse_format("mxfp4"), parse_format("nvfp4")
    assert mx.bits_per_element == 4.25 and nv.bits_per_element == 4.5
    assert (nv.exponent_bits, nv.mantissa_bits, nv.block, nv.scale_format) == (2, 1, NV_BLOCK, "e4m3")
    assert nv.bits_per_element == 4 + NV_SCALE_BITS / NV_BLOCK
    assert (mx.exponent_bits, mx.mantissa_bits) == (2, 1)
    assert "including the scale" in parse_precision("nvfp4").describe()
    assert parse_precision("mxfp4").bits == 4.25


@pytest.mark.parametrize("text, layout", [("e4m3", "e4m3"), ("fp8-e4m3", "e4m3"), ("E5M2", "e5m2"),
                                          ("fp8-e5m2", "e5m2"), ("fp6-e3m2", "e3m2"), ("fp4-e2m1", "e2m1")])
def test_plain_float_layouts(text, layout):
    f = parse_format(text)
    assert f.layout == layout and f.scale is None and f.bits_per_element == f.bits


def test_fp8_has_a_documented_default_said_in_the_output():
    f = parse_format("fp8")
    assert f.layout == "e4m3" and "default" in f.describe()
    assert parse_precision("fp8").name == "fp8-e4m3"
    assert "default" in parse_format("mxfp8").describe() and parse_format("mxfp8").layout == "e4m3"


def test_mxfp6_alone_is_ambiguous():
    with pytest.raises(PrecplanError, match="mxfp6-e2m3 or mxfp6-e3m2"):
        parse_format("mxfp6")
    assert parse_format("mxfp6-e2m3").layout == "e2m3" and parse_format("mxfp6-e3m2").layout == "e3m2"


def test_integer_groups():
    f = parse_format("int4-g128")
    assert (f.kind, f.bits, f.block, f.scale) == ("int", 4, 128, "group")
    assert f.bits_per_element == 4 + 16 / 128
    assert "assumption" in f.describe()
    assert parse_format("int8").bits_per_element == 8 and parse_format("int8").scale is None
    with pytest.raises(PrecplanError):
        parse_format("int4-g1")


@pytest.mark.parametrize("text", ["bf16", "fp16", "fp32"])
def test_high_precision_formats_are_unquantized(text):
    assert parse_format(text).is_high_precision


@pytest.mark.parametrize("text", ["fp4", "posit8", "fp8-e5m3", "nvfp8", "", "int0"])
def test_bad_names_are_one_line_errors(text):
    with pytest.raises(PrecplanError) as exc:
        parse_format(text)
    assert "\n" not in str(exc.value)


def test_existing_precision_inputs_still_work():
    assert parse_precision("8").bits == 8 and parse_precision("4.5").bits == 4.5
    assert parse_precision(8).name == "8-bit"
    p = parse_precision("fp6-e3m2")
    assert (p.bits, p.kind, p.name, p.exponent_bits, p.mantissa_bits) == (6, "float", "fp6-e3m2", 3, 2)
    assert parse_precision("int4").kind == "int" and parse_precision("bf16").bits == 16
