"""The hardware catalog (data/hardware.yaml) and ``precplan hardware``: numbers against the
cited datasheet values (typed in here from the sources, not read from the YAML), the loader's
care with hostile files, name lookup."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.errors import PrecplanError
from precplan.hardware import MAX_FILE_BYTES, catalog_from_mapping, get_gpu, load_catalog, read_catalog

T = 1e12
# Dense peaks (FLOP/s; OP/s for int) as printed in the cited sources; "/ 2" where the source prints
# only the with-sparsity figure.
DATASHEET = {
    # NVIDIA A100 datasheet / Ampere whitepaper: BF16 312 (624 sparse), TF32 156, INT8 624, INT4 1248 TOPS.
    "a100": {"bf16": 312 * T, "fp16": 312 * T, "tf32": 156 * T, "int8": 624 * T, "int4": 1248 * T},
    # NVIDIA H100 whitepaper (SXM5): BF16/FP16 989.4, TF32 494.7, FP8 1978.9, INT8 1978.9.
    "h100": {"bf16": 989.4 * T, "fp16": 989.4 * T, "tf32": 494.7 * T, "fp8": 1978.9 * T, "int8": 1978.9 * T},
    # NVIDIA H200 spec page: 1,979 (BF16/FP16) and 3,958 (FP8, INT8) with sparsity.
    "h200": {"bf16": 1979 * T / 2, "fp16": 1979 * T / 2, "fp8": 3958 * T / 2, "int8": 3958 * T / 2},
    # NVIDIA HGX B200 spec table, per GPU, with sparsity: FP4 18 PF, FP8/FP6 9 PF, INT8 9 POPS, BF16 4.5 PF, TF32 2.2 PF.
    "b200": {"fp4": 18e15 / 2, "fp6": 9e15 / 2, "fp8": 9e15 / 2, "int8": 9e15 / 2, "bf16": 4.5e15 / 2, "fp16": 4.5e15 / 2, "tf32": 2.2e15 / 2},
    # AMD MI300X (third-party copies of AMD's spec): BF16 1307.4, FP8 2614.9 dense; INT8 2600 (rounded).
    "mi300x": {"bf16": 1307.4 * T, "fp16": 1307.4 * T, "fp8": 2614.9 * T, "int8": 2614.9 * T},
    # Google Cloud TPU v5p: 459 TFLOPs BF16 and FP8 per chip; INT8 918 TOPS (launch announcement).
    "tpu-v5p": {"bf16": 459 * T, "fp8": 459 * T, "int8": 918 * T},
}
# B200 block formats: NVIDIA CUTLASS "Blackwell SM100 GEMMs" throughput table: kind::mxf8f6f4.block_scale
# (MXFP8/MXFP6) at 2x Hopper FP8 = the B200 FP8 rate; kind::mxf4.block_scale at 4x Hopper FP8 = the FP4
# rate (18 PF sparse); NVFP4 at the FP4 rate (secondary: docs.vultr.com 'FP4 Compute ~9.0 PFLOPS (NVFP4)').
DATASHEET["b200"].update({"mxfp8": 9e15 / 2, "mxfp6": 9e15 / 2, "mxfp4": 18e15 / 2, "nvfp4": 18e15 / 2})
MEMORY = {  # bytes: driver totals (Modal's table) or the vendor's GiB figure
    "a100": 80 * 2**30, "h100": 81_559 * 2**20, "h200": 143_771 * 2**20, "b200": 183_359 * 2**20, "mi300x": 192 * 2**30, "tpu-v5p": 95 * 2**30,
}
BANDWIDTH = {"a100": 2039e9, "h100": 3350e9, "h200": 4.8e12, "b200": 7.7e12, "mi300x": 5.3e12, "tpu-v5p": 2765e9}


@pytest.mark.parametrize("gid", sorted(DATASHEET))
def test_catalog_matches_the_cited_datasheet_values(gid):
    g = load_catalog().gpus[gid]
    assert {k: f.flops for k, f in g.formats.items()} == pytest.approx(DATASHEET[gid], rel=1e-12)
    assert g.memory_bytes == pytest.approx(MEMORY[gid], rel=1e-12)
    assert g.bandwidth == pytest.approx(BANDWIDTH[gid], rel=1e-12)
    for f in g.formats.values():  # every number has its source
        assert f.source.strip()
    assert g.memory_source.strip() and g.bandwidth_source.strip()


def test_training_formats_are_the_native_float_ones():
    names = lambda gid: [f.name for f in get_gpu(gid).training_formats()]  # noqa: E731
    assert names("h100") == ["fp8", "bf16"]
    assert names("b200") == ["fp4", "fp6", "fp8", "bf16"]
    assert names("a100") == ["bf16"]
    assert names("tpu-v5p") == ["bf16"]  # fp8 is accepted there but no faster than bf16


def test_names_aliases_and_multiples():
    assert get_gpu("H100-SXM").id == "h100"
    two = get_gpu("2xh100")
    assert two.count == 2 and two.total_memory == 2 * 81_559 * 2**20
    with pytest.raises(PrecplanError, match="unknown GPU 'h900'"):
        get_gpu("h900")
    with pytest.raises(PrecplanError, match="from 1 to"):
        get_gpu("0xh100")


def _entry(**over):
    g = {
        "name": "Test GPU", "memory": {"bytes": 1e10, "source": "s"}, "bandwidth": {"bytes_per_s": 1e12, "source": "s"},
        "formats": {"bf16": {"flops": 1e14, "bits": 16, "source": "s"}},
    }
    g.update(over)
    return {"schema": "precplan-hardware/1", "gpus": {"t1": g}}


@pytest.mark.parametrize(
    "data, message",
    [
        ([1, 2], "must be a mapping"),
        ({"schema": "other/1", "gpus": {}}, "is not 'precplan-hardware/1'"),
        (_entry(formats={"bf16": {"flops": -1, "bits": 16, "source": "s"}}), "positive finite"),
        (_entry(formats={"bf16": {"flops": 1e14, "bits": 16}}), "missing key 'source'"),
        (_entry(formats={"fp8": {"flops": 1e14, "bits": 8, "source": "s"}}), "needs a bf16 or fp16"),
        (_entry(formats={"fp99": {"flops": 1e14, "bits": 8, "source": "s"}}), "unknown format"),
        (_entry(memory={"bytes": 1e10}), "missing key 'source'"),
        (_entry(color="red"), "unknown key 'color'"),
        (_entry(aliases="h100"), "list of names"),
    ],
)
def test_bad_catalogs_are_refused_with_the_key(data, message):
    with pytest.raises(PrecplanError, match=message):
        catalog_from_mapping(data, "cat.yaml")


def test_hostile_files_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(PrecplanError, match="too large"):
        read_catalog(big)
    evil = tmp_path / "evil.yaml"
    evil.write_text("schema: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(PrecplanError, match="malformed YAML"):
        read_catalog(evil)
    with pytest.raises(PrecplanError, match="no such hardware catalog"):
        read_catalog(tmp_path / "missing.yaml")


def test_hardware_cli_list_show_and_a_user_file(tmp_path):
    r = CliRunner()
    out = r.invoke(app, ["hardware", "list", "--json"])
    assert out.exit_code == 0
    assert {g["id"] for g in json.loads(out.stdout)} == set(DATASHEET)
    out = r.invoke(app, ["hardware", "show", "h100", "--json"])
    g = json.loads(out.stdout)
    assert g["formats"]["fp8"]["flops"] == 1978.9 * T and g["training_formats"] == ["fp8", "bf16"]
    assert "whitepaper" in g["formats"]["bf16"]["source"]
    human = r.invoke(app, ["hardware", "show", "b200"])
    assert human.exit_code == 0 and "fp4" in human.stdout
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_entry()))
    out = r.invoke(app, ["hardware", "list", "--json", "--hardware", str(path)])
    assert [g["id"] for g in json.loads(out.stdout)] == ["t1"]
    bad = r.invoke(app, ["hardware", "show", "nope"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "unknown GPU" in bad.stderr


@pytest.mark.parametrize("width", [80, 120])
def test_hardware_list_and_show_one_line_per_row_at_width(width, monkeypatch):
    """`hardware list` has one line per GPU and `hardware show` one per format, at 80 and 120
    columns; no table line is longer than the terminal, and sources move to footnotes in full."""
    from precplan.hardware import load_catalog

    monkeypatch.setenv("COLUMNS", str(width))
    r = CliRunner()
    cat = load_catalog(None)
    out = r.invoke(app, ["hardware", "list"]).stdout
    body = [line for line in out.splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in body] == list(cat.gpus)  # one line per GPU, ids whole
    assert max(len(line) for line in out.splitlines() if line[:1] in "┏┃┡│└") <= width
    assert "2.61" in out and "(0.459)" in out  # MI300X int8 and the not-faster fp8 of TPU v5p
    g = cat.get("b200")
    out = r.invoke(app, ["hardware", "show", "b200"]).stdout
    body = [line for line in out.splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in body] == [*g.formats, "memory", "bandwidth"]
    assert max(len(line) for line in out.splitlines() if line[:1] in "┏┃┡│└") <= width
    flat = " ".join(out.split())
    assert "183359MiB" in flat and "192,265,846,784 B" in out  # the driver total, whole, with its source
    for f in g.formats.values():  # every format's source is printed once, untruncated
        assert " ".join(f.source.split()) in flat
