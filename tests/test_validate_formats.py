"""Training formats of ``precplan validate`` (FP8, MX, NVFP4) against their specifications.

Every expectation is derived here, independently of the implementation: each element type's
values are enumerated from its bit fields (sign, E exponent bits with a bias, M mantissa bits,
subnormals at the lowest exponent), then cut at the maximum the specification publishes;
rounding is brute-force nearest over that list with ties going to the even code (mantissa LSB
0); the MX and NVFP4 scales are computed in float64 from the specifications' formulas.

Sources of the constants:
- OCP 8-bit Floating Point Specification (OFP8) rev. 1.0, table 1: E4M3 bias 7, max 448
  (S.1111.111 is NaN); E5M2 bias 15, max 57344.
- OCP Microscaling Formats (MX) Specification v1.0, sec. 5.3 (tables 2 and 3): FP6 E2M3 bias 1,
  max 7.5; E3M2 bias 3, max 28; FP4 E2M1 bias 1, max 6; table 1: block size 32 and E8M0 scale;
  sec. 6.3: shared scale 2^(floor(log2 amax) - emax_elem), emax_elem = 8, 15, 2, 4, 2.
- NVIDIA, "Pretraining Large Language Models with NVFP4" (arXiv 2509.25149), sec. 2: E2M1 in
  blocks of 16, E4M3 block scale, FP32 tensor scale; tensor scale amax / (6 * 448).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from precplan.errors import PrecplanError  # noqa: E402
from precplan.validate._formats import FORMATS, parse_formats  # noqa: E402
from precplan.validate._fpquant import (  # noqa: E402
    fake_quant_format, format_linear, mx_scale, nv_scales, quantize_format, round_to_element)

# (exponent bits, mantissa bits, bias, published max, OCP MX emax_elem)
SPEC = {
    "e4m3": (4, 3, 7, 448.0, 8),
    "e5m2": (5, 2, 15, 57344.0, 15),
    "e2m3": (2, 3, 1, 7.5, 2),
    "e3m2": (3, 2, 3, 28.0, 4),
    "e2m1": (2, 1, 1, 6.0, 2),
}


def grid(name: str) -> list[tuple[float, bool]]:
    """Every finite non-negative value of the element type with whether its code is even,
    sorted, from the bit fields (exponent field 0: subnormals 2^(1-bias) m / 2^M)."""
    e_bits, m_bits, bias, vmax, _ = SPEC[name]
    out = {}
    for e in range(2**e_bits):
        for m in range(2**m_bits):
            v = (2.0 ** (1 - bias)) * m / 2**m_bits if e == 0 else 2.0 ** (e - bias) * (1 + m / 2**m_bits)
            if v <= vmax:
                out[v] = m % 2 == 0
    return sorted(out.items())


def oracle_round(values: np.ndarray, name: str) -> np.ndarray:
    """Nearest grid value (ties to the even code), saturating at the maximum, sign kept."""
    g = grid(name)
    vals = np.array([v for v, _ in g])
    even = np.array([e for _, e in g])
    out = []
    for x in np.asarray(values, dtype=np.float64).ravel():
        a = min(abs(x), vals[-1])
        d = np.abs(vals - a)
        near = np.flatnonzero(d == d.min())
        pick = near[0] if len(near) == 1 else next(i for i in near if even[i])
        out.append(math.copysign(vals[pick], x))
    return np.array(out).reshape(np.shape(values))


def test_enumerated_value_sets_match_the_published_ones():
    assert [v for v, _ in grid("e2m1")] == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    for name, (_, _, _, vmax, emax) in SPEC.items():
        values = [v for v, _ in grid(name)]
        assert values[-1] == vmax
        assert math.floor(math.log2(vmax)) == emax  # the MX spec's emax_elem is the top binade
    assert len(grid("e4m3")) == 127 - 1 + 1  # 126 non-zero magnitudes (NaN taken out) and zero
    assert len(grid("e5m2")) == 1 + 123  # 31 binades minus inf/NaN codes: 30 * 4 + 3 subnormals + 0


@pytest.mark.parametrize("name", list(SPEC))
def test_every_representable_value_is_kept_and_nothing_else_is_produced(name):
    values = np.array([v for v, _ in grid(name)])
    both = np.concatenate([values, -values])
    q = round_to_element(torch.tensor(both, dtype=torch.float32), name).double().numpy()
    assert np.array_equal(q, both)
    dense = torch.linspace(-2 * values[-1], 2 * values[-1], 20001)
    produced = set(np.abs(round_to_element(dense, name).double().numpy()).tolist())
    assert produced <= set(values.tolist())


@pytest.mark.parametrize("name", list(SPEC))
def test_ties_round_to_even_and_the_rest_to_nearest(name):
    g = grid(name)
    vals = np.array([v for v, _ in g])
    mids = (vals[:-1] + vals[1:]) / 2  # exact in fp32: few significant bits
    q = round_to_element(torch.tensor(mids, dtype=torch.float32), name).double().numpy()
    expect = [lo if even_lo else hi for (lo, even_lo), (hi, _) in zip(g[:-1], g[1:])]
    assert np.array_equal(q, expect)
    assert np.array_equal(round_to_element(torch.tensor(-mids, dtype=torch.float32), name).double().numpy(),
                          -np.array(expect))
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(4000) * vals[-1] / 3).astype(np.float32)
    assert np.array_equal(round_to_element(torch.from_numpy(x), name).double().numpy(), oracle_round(x, name))


@pytest.mark.parametrize("name", list(SPEC))
def test_saturates_instead_of_overflowing(name):
    vmax = SPEC[name][3]
    x = torch.tensor([vmax * 1.01, vmax * 1.5, 1e30, -1e30, 3e38, float("inf"), float("-inf")])
    q = round_to_element(x, name)
    assert torch.isfinite(q).all()
    assert q.tolist() == [vmax, vmax, vmax, -vmax, vmax, vmax, -vmax]
    for fmt in FORMATS:  # every format, scales included: no inf or NaN for large finite inputs
        big = torch.tensor([[3e38, -1e30, 1.0, 0.0] * 8])
        assert torch.isfinite(quantize_format(big, fmt)).all(), fmt


def test_fp8_row_scale_maps_each_row_maximum_onto_the_element_maximum():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 50, generator=g) * torch.logspace(-3, 3, 6)[:, None]
    for name in ("e4m3", "e5m2"):
        vmax = SPEC[name][3]
        s = x.double().abs().amax(dim=1, keepdim=True) / vmax
        expect = oracle_round((x.double() / s).numpy(), name) * s.numpy()
        got = quantize_format(x, name).double().numpy()
        assert np.allclose(got, expect, rtol=1e-6, atol=0)
        assert np.allclose(np.abs(got).max(axis=1), x.abs().amax(dim=1).double().numpy(), rtol=1e-6)
        # per tensor: one scale
        st = float(x.double().abs().max()) / vmax
        expect_t = oracle_round(x.double().numpy() / st, name) * st
        assert np.allclose(quantize_format(x, name, per_row=False).double().numpy(), expect_t, rtol=1e-6)


@pytest.mark.parametrize("fmt,elem", [("mxfp8-e4m3", "e4m3"), ("mxfp8-e5m2", "e5m2"), ("mxfp6-e2m3", "e2m3"),
                                      ("mxfp6-e3m2", "e3m2"), ("mxfp4", "e2m1")])
def test_mx_scale_is_the_specs_power_of_two_and_elements_follow(fmt, elem):
    emax = SPEC[elem][4]
    for amax in (1e-3, 0.3, 1.0, 1.5, 4.0, 7.99, 8.0, 1000.0):
        expect = 2.0 ** (math.floor(math.log2(amax)) - emax)
        assert float(mx_scale(torch.tensor(amax), elem)) == expect
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 96, generator=g) * torch.logspace(-2, 2, 96)  # 3 blocks of 32 per row
    got = quantize_format(x, fmt).double().numpy()
    xd = x.double().numpy().reshape(4, 3, 32)
    amax = np.abs(xd).max(axis=-1, keepdims=True)
    scale = 2.0 ** (np.floor(np.log2(amax)) - emax)
    expect = (oracle_round(xd / scale, elem) * scale).reshape(4, 96)
    assert np.array_equal(got, expect)
    assert np.all(np.log2(scale) == np.round(np.log2(scale)))  # E8M0: powers of two


def test_mx_block_whose_amax_overshoots_the_element_max_saturates():
    # amax 7 -> scale 2^(2 - 2) = 1 and 7 / 1 lies above E2M1's 6: clamped to 6, as sec. 6.3 says
    x = torch.tensor([[7.0, 5.0, 0.75] + [0.0] * 29])
    q = quantize_format(x, "mxfp4")
    assert q[0, :3].tolist() == [6.0, 4.0, 1.0]


def test_block_boundaries_are_32_for_mx_and_16_for_nvfp4():
    x = torch.ones(1, 64)
    x[0, 0] = 1000.0  # an outlier in the first block
    mx = quantize_format(x, "mxfp4")[0]
    # block 1 (0..31): scale 2^(9 - 2) = 128, so 1 / 128 rounds to 0; block 2 untouched
    assert mx[0].item() == 6 * 128 and (mx[1:32] == 0).all() and (mx[32:] == 1).all()
    nv = quantize_format(x, "nvfp4")[0]
    assert (nv[16:] == nv[16]).all() and (nv[1:16] == nv[1]).all()
    # its own block: scale e4m3(1 / 6 / S), S = 1000 / (6 * 448): 0.448 rounds down to 0.4375, so
    # 1 / (0.4375 S) = 6.14 saturates to 6 (a block maximum can clip when its E4M3 scale rounds down)
    S = 1000.0 / (6 * 448)
    b = oracle_round(np.array([1 / 6 / S]), "e4m3")[0]
    assert b == 0.4375
    assert nv[16].item() == pytest.approx(float(oracle_round(np.array([1 / (b * S)]), "e2m1")[0] * b * S), rel=1e-6)
    assert nv[1].item() != nv[16].item()
    # a length that is not a multiple of the block: the last block is the short rest
    y = torch.ones(1, 40)
    y[0, 39] = 1000.0
    q = quantize_format(y, "mxfp4")[0]
    assert (q[:32] == 1).all() and (q[32:39] == 0).all()


def test_nvfp4_two_level_scale_matches_the_papers_recipe():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 64, generator=g) * torch.logspace(-8, 1, 8)[:, None]  # row 0: below E4M3 scale range
    xd = x.double().numpy()
    S = np.abs(xd).max() / (6 * 448)
    blocks = xd.reshape(8, 4, 16)
    amax_b = np.abs(blocks).max(axis=-1, keepdims=True)
    b = oracle_round(amax_b / 6 / S, "e4m3")  # the E4M3 block scale
    expect = np.where(b > 0, oracle_round(blocks / np.where(b > 0, b * S, 1), "e2m1") * b * S, 0).reshape(8, 64)
    got = quantize_format(x, "nvfp4").double().numpy()
    assert np.allclose(got, expect, rtol=1e-6, atol=1e-30)
    s, scales = nv_scales(torch.from_numpy(amax_b).float(), x.abs().amax())
    assert float(s) == pytest.approx(S, rel=1e-6)
    assert np.array_equal(scales.double().numpy(), b)
    assert scales.max().item() == 448.0  # the block holding the tensor's amax gets the largest E4M3 scale
    assert (b == 0).any()  # the smallest rows' block scales underflow E4M3 ...
    assert (got.reshape(8, 4, 16)[(b == 0)[..., 0]] == 0).all()  # ... and those blocks become zeros


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_gradient_passes_straight_through(fmt):
    g = torch.Generator().manual_seed(4)
    w = (torch.randn(8, 48, generator=g) * 5).requires_grad_(True)
    up = torch.randn(8, 48, generator=g)
    fake_quant_format(w, fmt).backward(up)
    assert torch.equal(w.grad, up)


def test_backward_gemm_inputs_are_quantized_only_when_asked():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 32, 64, generator=g)
    w = torch.randn(48, 64, generator=g) * 0.1
    up = torch.randn(3, 32, 48, generator=g) * 1e-3
    grads = {}
    for bwd in (False, True):
        xx, ww = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        y = format_linear(xx, ww, "mxfp4", backward=bwd)
        y.backward(up)
        grads[bwd] = (xx.grad, ww.grad, y.detach())
    assert torch.equal(grads[False][2], grads[True][2])  # same forward
    xq, wq = quantize_format(x, "mxfp4"), quantize_format(w, "mxfp4")
    # straight through: the backward GEMMs see the forward's quantized operands and the exact dY
    assert torch.allclose(grads[False][0], up @ wq, atol=1e-6)
    assert torch.allclose(grads[False][1], up.reshape(-1, 48).t() @ xq.reshape(-1, 64), atol=1e-6)
    # quantized backward: dY in E2M1 blocks along each backward GEMM's reduction dimension
    g2 = up.reshape(-1, 48)
    dx = quantize_format(g2, "mxfp4") @ quantize_format(w.t(), "mxfp4").t()
    dw = quantize_format(g2.t(), "mxfp4") @ quantize_format(x.reshape(-1, 64).t(), "mxfp4").t()
    assert torch.allclose(grads[True][0], dx.reshape(3, 32, 64), atol=1e-7)
    assert torch.allclose(grads[True][1], dw, atol=1e-7)
    assert not torch.allclose(grads[True][0], grads[False][0], atol=1e-7)


def test_format_names_as_people_write_them():
    assert parse_formats("bf16, FP8-E4M3,e5m2,mxfp4,nvfp4,nvfp4") == ("bf16", "e4m3", "e5m2", "mxfp4", "nvfp4")
    # fp8 and mxfp8 read as precplan.formats' documented defaults (E4M3), as everywhere else
    from precplan.formats import parse_format

    assert parse_formats("fp8,mxfp8") == ("e4m3", "mxfp8-e4m3")
    assert {(f.exponent_bits, f.mantissa_bits) for f in map(parse_format, ("fp8", "mxfp8"))} == {(4, 3)}
    for bad, word in (("int3", "unknown"), ("fp4", "ambiguous"), ("mxfp6", "ambiguous"), ("", "empty"), ("e4m3,,", "empty")):
        with pytest.raises(PrecplanError, match=word):
            parse_formats(bad)
    assert FORMATS["mxfp4"].bits_per_element == 4.25 and FORMATS["nvfp4"].bits_per_element == 4.5


def test_bad_format_is_one_line_exit_2_before_anything_is_written(runner, tmp_path):
    from precplan.cli import app

    out = tmp_path / "never"
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--formats", "bf16,e4m4", "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 2
    text = res.output.strip()
    assert len(text.splitlines()) == 1 and "e4m4" in text and "nvfp4" in text and "mxfp4" in text
    assert not out.exists()
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--formats-backward", "--out", str(out)])
    assert res.exit_code == 2 and "--formats" in res.output and not out.exists()


def test_bit_width_run_ids_do_not_change_and_format_runs_get_their_own():
    from precplan.validate._presets import get_preset, with_formats

    smoke = get_preset("smoke")
    spec = smoke.specs[0]
    assert spec.format == "" and "format" not in spec.run_id("x") and spec.bits_label in spec.run_id("x")
    runs = with_formats(smoke, ["bf16", "e4m3", "nvfp4"]).specs
    ids = [s.run_id("x") for s in runs]
    assert len(set(ids)) == 3 and all(s.format in i for s, i in zip(runs, ids))
    assert [(s.weight_bits, s.activation_bits, s.kv_bits) for s in runs] == [(16, 16, 16), (8, 8, 16), (4, 4, 16)]
    assert all(s.ptq_bits == () for s in runs)
    bwd = with_formats(smoke, ["nvfp4"], backward=True).specs[0]
    assert bwd.run_id("x") != runs[2].run_id("x") and "nvfp4+bwd" in bwd.run_id("x")


def test_formats_preset_compares_the_five_formats_with_seeds():
    from precplan.validate._presets import get_preset, with_overrides

    p = with_overrides(get_preset("formats"))
    assert sorted({s.format for s in p.specs}) == sorted(["bf16", "e4m3", "e5m2", "mxfp4", "nvfp4"])
    assert len({(s.shape, s.tokens) for s in p.specs}) == 1
    assert len(p.specs) == 5 * p.seeds and p.seeds >= 2


def test_format_table_gap_and_noise():
    from precplan.validate._format_report import format_gaps

    recs = [{"format": f, "params": 1e5, "tokens": 1e6, "loss": x, "weight_bits": b}
            for f, b, xs in (("bf16", 16, (4.00, 4.02)), ("e4m3", 8, (4.01, 4.03)), ("nvfp4", 4, (4.20, 4.22)))
            for x in xs]
    doc = format_gaps(recs + [{"run_id": "old", "params": 1e5, "tokens": 1e6, "loss": 3.0}])  # bit-width runs ignored
    rows = {r["format"]: r for r in doc["rows"]}
    assert set(rows) == {"bf16", "e4m3", "nvfp4"}
    sd = math.sqrt(((0.01**2) * 2 * 3) / 3)  # every pair differs by 0.02: sd 0.01414, pooled over 3 groups
    assert doc["pooled_sd"] == pytest.approx(sd)
    assert rows["nvfp4"]["gap"] == pytest.approx(0.20) and rows["nvfp4"]["rel_gap"] == pytest.approx(0.20 / 4.01)
    assert rows["nvfp4"]["resolved"] is True and rows["e4m3"]["resolved"] is False  # 0.01 < 2 * sd * sqrt(1)
    assert doc["verdict"].index("nvfp4") < doc["verdict"].index("e4m3")


@pytest.mark.slow
def test_smoke_formats_train_and_report_one_row_per_format(runner, tmp_path):
    from precplan.cli import app

    names = ["bf16", "e4m3", "e5m2", "mxfp4", "nvfp4"]
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--formats", ",".join(names), "--device", "cpu",
                              "--out", str(tmp_path), "--checkpoints", "0", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["sweep"]["ran"] == 5 and doc["sweep"]["diverged"] == 0
    rows = doc["formats"]["rows"]
    assert [r["format"] for r in rows] == names
    assert rows[0]["gap"] == 0
    for r in rows:
        assert 1.0 < r["mean_loss"] < math.log(256)  # trained: below uniform guessing over 256 byte values
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["format"] for r in report["formats"]["rows"]] == names
    md = (tmp_path / "report.md").read_text()
    assert all(n in md for n in names) and "loss vs bf16" in md
    from precplan.validate import read_folders

    records = read_folders([tmp_path])[0]  # every writer's store file
    assert sorted(r["format"] for r in records) == sorted(names)
    assert all("e2m1" in r["config"]["quantizer"] for r in records if r["format"] in ("mxfp4", "nvfp4"))
