"""The hardware catalog: accelerators, the dense peak throughput of each native format, memory
capacity and bandwidth, every number with its source (``data/hardware.yaml``, or a user file).

A catalog file is YAML (``schema: precplan-hardware/1``) read with the safe loader and a size
bound, and validated key by key like a law file: every error names the file and the key.

Names as people write them: ``h100``, ``H100-SXM``, ``b200``; a multiple ``2xh100`` means two
cards (memory doubles; for serving memory). The training formats of a GPU are its native float
tensor-core formats at or below 16 bits (H100: fp8, bf16; B200 adds fp6, fp4); a width without
a native format runs in the next wider one (:meth:`Gpu.runs_in`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.formats import parse_format
from precplan.precision import Precision, parse_precision
from precplan.io import bundled_dir, decode_text, read_regular_file

Array = NDArray[np.float64]
SCHEMA = "precplan-hardware/1"
MAX_FILE_BYTES = 1 << 20  # a catalog is a few KB; refuse anything near a megabyte unread
MAX_MULTIPLE = 4096  # 2xh100 ... 4096xh100
MAX_DEPTH = 16  # nesting levels (the format needs 5: gpus, id, formats, name, value)
# What a catalog number may be: a memory from 1 MB to 1 PB, a bandwidth from 1 MB/s to 1 PB/s, a
# dense peak from 1 GFLOP/s to 1e19 FLOP/s (10 EFLOP/s per chip). Outside these a number is a
# typo (a peak of 1e-300 would overflow every cost), refused with its key.
BOUNDS = {"memory.bytes": (1e6, 1e15), "bandwidth.bytes_per_s": (1e6, 1e15), "flops": (1e9, 1e19)}
# The width each catalog format name stands for (tf32: its 32-bit storage, as the catalog writes it).

# Catalog format names -> the precplan precision each stands for. fp8 trains as e4m3 (Hopper and
# Blackwell run e4m3 and e5m2 at one rate), fp6 as e3m2, fp4 as e2m1 (the OCP MX element types).
FORMAT_PRECISION: Mapping[str, str] = MappingProxyType({
    "bf16": "bf16", "fp16": "fp16", "fp8": "fp8-e4m3", "fp6": "fp6-e3m2", "fp4": "fp4-e2m1",
    "int8": "int8", "int4": "int4", "tf32": "tf32",
    "mxfp8": "mxfp8-e4m3", "mxfp6": "mxfp6-e3m2", "mxfp4": "mxfp4", "nvfp4": "nvfp4",
})
# The bits a catalog row must state for its format name: the plain widths, and for block formats the
# bits per element including the scale, as precplan.formats defines them (MXFP4 4.25, NVFP4 4.5).
FORMAT_BITS: Mapping[str, float] = MappingProxyType({
    "bf16": 16, "fp16": 16, "fp8": 8, "fp6": 6, "fp4": 4, "int8": 8, "int4": 4, "tf32": 32,
    **{name: parse_format(FORMAT_PRECISION[name]).bits_per_element for name in ("mxfp8", "mxfp6", "mxfp4", "nvfp4")},
})
BLOCK_FORMATS = ("mxfp8", "mxfp6", "mxfp4", "nvfp4")
"""Block-scaled catalog formats (OCP MX v1.0 blocks of 32 with E8M0 scales; NVFP4 blocks of 16 with
E4M3 scales). Their ``bits`` include the scale. Bit-count planning (kumar laws) keeps using the plain
widths in :data:`TRAINING_FORMATS`; format-aware planning (:func:`precplan.optimize.plan_formats`)
plans over these too."""
NAMED_FORMATS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bf16": ("bf16",), "fp16": ("fp16",), "fp8": ("fp8-e4m3", "fp8-e5m2"), "mxfp8": ("mxfp8-e4m3", "mxfp8-e5m2"),
    "mxfp6": ("mxfp6-e2m3", "mxfp6-e3m2"), "mxfp4": ("mxfp4",), "nvfp4": ("nvfp4",),
})
"""Catalog training format -> the named formats (:func:`precplan.formats.parse_format`) that run at its
rate: Hopper and Blackwell run FP8 E4M3 and E5M2 at one rate; MX FP6 has two element types. Plain
``fp6``/``fp4`` rows (no scaling named) are left to bit-count laws."""
TRAINING_FORMATS = ("bf16", "fp16", "fp8", "fp6", "fp4")  # float tensor-core formats a model trains in
SERVING_FORMATS = TRAINING_FORMATS + ("int8", "int4")  # weights may also be served as integers
TOP_KEYS = {"schema", "gpus"}
GPU_KEYS = {"name", "aliases", "memory", "bandwidth", "formats", "unsupported"}
MEMORY_KEYS = {"bytes", "capacity_gib", "vendor_figure", "source", "note"}
BANDWIDTH_KEYS = {"bytes_per_s", "source", "note"}
FORMAT_KEYS = {"flops", "bits", "source", "note", "native"}


@dataclass(frozen=True)
class Format:
    """One native format of a GPU: its width, dense peak FLOP/s (OP/s for integers) and source."""

    name: str  # catalog name: bf16, fp16, fp8, fp6, fp4, int8, int4, tf32
    bits: float
    flops: float
    source: str
    note: str = ""
    native: bool = True  # False: accepted, but no faster than a wider format (e.g. fp8 on TPU v5p)

    @property
    def precision(self) -> Precision:
        """The precplan precision this format trains or serves as (fp8 -> fp8-e4m3)."""
        return _precision(FORMAT_PRECISION[self.name])


@dataclass(frozen=True)
class Gpu:
    """One accelerator (or ``count`` of them, from ``2xh100``) from the catalog."""

    id: str
    name: str
    memory_bytes: float  # per card
    memory_source: str
    bandwidth: float  # bytes/s per card
    bandwidth_source: str
    formats: Mapping[str, Format]
    aliases: tuple[str, ...] = ()
    unsupported: Mapping[str, str] = field(default_factory=dict)
    memory_note: str = ""
    count: int = 1

    @property
    def label(self) -> str:
        return self.name if self.count == 1 else f"{self.count} x {self.name}"

    @property
    def total_memory(self) -> float:
        """Bytes on all ``count`` cards."""
        return self.memory_bytes * self.count

    @property
    def bits_flops(self) -> dict[str, tuple[float, float]]:
        """``{format: (bits, dense peak FLOP/s)}``."""
        return {k: (f.bits, f.flops) for k, f in self.formats.items()}

    def training_formats(self) -> list[Format]:
        """Native float training formats, one per width (bf16 over fp16), narrowest first."""
        return list(self._table("training")[0])

    def _table(self, purpose: str) -> tuple[tuple[Format, ...], NDArray[np.float64]]:
        """The formats for ``purpose`` (narrowest first) and their widths, computed once per GPU."""
        cache = self.__dict__.setdefault("_tables", {})  # frozen dataclass: a private cache in __dict__
        if purpose not in cache:
            keys = TRAINING_FORMATS if purpose == "training" else SERVING_FORMATS
            by_bits: dict[float, Format] = {}
            for key in keys:
                f = self.formats.get(key)
                if f is not None and f.native and (f.bits not in by_bits or f.flops > by_bits[f.bits].flops):
                    by_bits[f.bits] = f
            fmts = tuple(by_bits[b] for b in sorted(by_bits))
            cache[purpose] = (fmts, np.array([f.bits for f in fmts]), np.array([f.flops for f in fmts]))
        fmts, bits, _ = cache[purpose]
        return fmts, bits

    @property
    def reference(self) -> Format:
        """The 16-bit format whose rate defines a 16-bit-equivalent FLOP on this GPU."""
        for key in ("bf16", "fp16"):
            if key in self.formats:
                return self.formats[key]
        raise PrecplanError(f"{self.id}: the catalog gives no bf16 or fp16 rate, which planning needs")

    def format_for(self, p: Precision, purpose: str = "training") -> Format:
        """The native format a named precision runs in; an error naming the valid ones if the GPU has none."""
        allowed = TRAINING_FORMATS if purpose == "training" else SERVING_FORMATS
        for key in allowed:
            f = self.formats.get(key)
            if f is not None and f.native and _same_format(parse_precision(FORMAT_PRECISION[key]), p):
                return f
        why = next((self.unsupported[k] for k in self.unsupported if k in FORMAT_PRECISION and _same_format(parse_precision(FORMAT_PRECISION[k]), p)), "")
        slow = [k for k, f in self.formats.items() if not f.native and _same_format(f.precision, p)]
        if slow:
            why = f"its {slow[0]} runs no faster than a wider format (native: false in the catalog)"
        if p.kind == "int" and purpose == "training":
            why = "integer formats are serving formats here; training candidates are the float tensor-core formats"
        valid = ", ".join(f.name for f in (self.training_formats() if purpose == "training" else self.serving_formats()))
        raise PrecplanError(
            f"{self.id} has no native {p.name} for {purpose}{f' ({why})' if why else ''}: its native {purpose} formats are"
            f" {valid} (or give plain bit counts, e.g. `precisions` 3:16, to run them emulated in the next wider format)"
        )

    def serving_formats(self) -> list[Format]:
        """Native formats weights can be served in (floats and integers), one per width, narrowest first."""
        return list(self._table("serving")[0])

    def runs_in(self, bits: ArrayLike, purpose: str = "training") -> tuple[Array, NDArray[np.int64], list[Format]]:
        """For each width: the peak FLOP/s it runs at, which format (index into the returned list)
        and that list. A width runs in the narrowest native format at least as wide; wider than every
        format it runs at the widest format's rate x its bits / bits (an assumption, noted by callers)."""
        fmts, widths = self._table(purpose)
        flops = self.__dict__["_tables"][purpose][2]
        b = np.asarray(bits, dtype=float)
        index = np.minimum(np.searchsorted(widths, b - 1e-9, side="left"), len(fmts) - 1)
        peak = flops[index] * np.where(b > widths[-1] + 1e-9, widths[-1] / np.maximum(b, 1e-300), 1.0)
        return peak, index, list(fmts)


@lru_cache(maxsize=None)
def _precision(name: str) -> Precision:
    return parse_precision(name)


def _same_format(a: Precision, b: Precision) -> bool:
    """Whether precision ``b`` is format ``a``: same bits and kind; any fp8 layout is the fp8 format."""
    if a.bits != b.bits or a.kind != b.kind:
        return False
    if a.name in ("bf16", "fp16") or b.name in ("bf16", "fp16"):
        return a.name == b.name
    return True


@dataclass(frozen=True)
class Catalog:
    """A validated hardware catalog: GPUs by id, with an alias index."""

    gpus: Mapping[str, Gpu]
    origin: str

    def names(self) -> list[str]:
        return list(self.gpus)

    def get(self, text: str) -> Gpu:
        """A GPU by id or alias, any case; ``2xh100`` is two H100s."""
        raw = str(text).strip().lower()
        count = 1
        m = re.fullmatch(r"(\d+)\s*[x*]\s*(.+)", raw)
        if m:
            count = int(m.group(1))
            raw = m.group(2).strip()
            if not 1 <= count <= MAX_MULTIPLE:
                raise PrecplanError(f"{text!r}: the number of cards must be a whole number from 1 to {MAX_MULTIPLE}")
        for g in self.gpus.values():
            if raw == g.id or raw in g.aliases:
                return g if count == 1 else _replace_count(g, count)
        raise PrecplanError(f"unknown GPU {text!r} (known: {', '.join(self.gpus)}; or 2xh100 for two cards; precplan hardware list)")


def _replace_count(g: Gpu, count: int) -> Gpu:
    from dataclasses import replace

    return replace(g, count=count)


# ---------------------------------------------------------------------------- reading
def _fail(where: str, what: str) -> PrecplanError:
    return PrecplanError(f"{where}: {what}")


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise _fail(where, f"{value!r} is not a number")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _fail(where, f"{value!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise _fail(where, f"{value!r} must be a positive finite number")
    return v


def _bounded(value: Any, where: str, kind: str) -> float:
    """A positive catalog number within :data:`BOUNDS` for its kind."""
    v = _positive(value, where)
    lo, hi = BOUNDS[kind]
    if not lo <= v <= hi:
        raise _fail(where, f"{value!r} is not a plausible {dict(flops='peak rate', bandwidth='bandwidth').get(kind.split('.')[0], 'memory size')} (expected {lo:g} to {hi:g})")
    return v


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "must be a non-empty text")
    return value.strip()


def _mapping(value: Any, where: str, keys: set[str], required: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "must be a mapping")
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r} (valid: {', '.join(sorted(keys))})")
    for k in required:
        if value.get(k) is None:
            raise _fail(where, f"missing key {k!r}")
    return value


def catalog_from_mapping(data: Any, origin: str = "<memory>") -> Catalog:
    """Validate a parsed catalog and build a :class:`Catalog` (errors name ``origin`` and the key).

    Every number needs its source: memory.source, bandwidth.source and each format's source."""
    top = _mapping(data, origin, TOP_KEYS, ("schema", "gpus"))
    if top["schema"] != SCHEMA:
        raise _fail(f"{origin}: schema", f"{top['schema']!r} is not {SCHEMA!r}")
    gpus_in = top["gpus"]
    if not isinstance(gpus_in, Mapping) or not gpus_in:
        raise _fail(f"{origin}: gpus", "must be a non-empty mapping from GPU id to its entry")
    gpus: dict[str, Gpu] = {}
    seen: dict[str, str] = {}
    for gid, entry in gpus_in.items():
        key = str(gid).strip().lower()
        where = f"{origin}: gpus.{gid}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", key) or re.fullmatch(r"\d+\s*x.*", key):
            raise _fail(where, "an id is lower-case letters, digits, '.', '_' or '-' (and not like 2xh100)")
        e = _mapping(entry, where, GPU_KEYS, ("name", "memory", "bandwidth", "formats"))
        mem = _mapping(e["memory"], f"{where}.memory", MEMORY_KEYS, ("bytes", "source"))
        bw = _mapping(e["bandwidth"], f"{where}.bandwidth", BANDWIDTH_KEYS, ("bytes_per_s", "source"))
        fmts_in = e["formats"]
        if not isinstance(fmts_in, Mapping) or not fmts_in:
            raise _fail(f"{where}.formats", "must be a non-empty mapping from format name to {flops, bits, source}")
        fmts: dict[str, Format] = {}
        for fname, f in fmts_in.items():
            fw = f"{where}.formats.{fname}"
            if fname not in FORMAT_PRECISION:
                raise _fail(fw, f"unknown format (valid: {', '.join(FORMAT_PRECISION)})")
            f = _mapping(f, fw, FORMAT_KEYS, ("flops", "bits", "source"))
            native = f.get("native", True)
            if not isinstance(native, bool):
                raise _fail(f"{fw}.native", "must be true or false")
            bits = _positive(f["bits"], f"{fw}.bits")
            if bits != FORMAT_BITS[fname]:
                raise _fail(f"{fw}.bits", f"{f['bits']!r} contradicts the format's name: {fname} is {FORMAT_BITS[fname]:g} bits")
            fmts[fname] = Format(fname, bits, _bounded(f["flops"], f"{fw}.flops", "flops"),
                                 _text(f["source"], f"{fw}.source"), str(f.get("note") or ""), native)
        aliases_in = e.get("aliases") or []
        if not isinstance(aliases_in, list) or not all(isinstance(a, str) and a.strip() for a in aliases_in):
            raise _fail(f"{where}.aliases", "must be a list of names")
        aliases = tuple(dict.fromkeys(a.strip().lower() for a in aliases_in if a.strip().lower() != key))
        for name in (key,) + aliases:
            if name in seen:
                raise _fail(where, f"name {name!r} is already used by {seen[name]}")
            seen[name] = key
        unsupported = e.get("unsupported") or {}
        if not isinstance(unsupported, Mapping):
            raise _fail(f"{where}.unsupported", "must be a mapping from format name to why")
        gpu = Gpu(
            id=key, name=_text(e["name"], f"{where}.name"),
            memory_bytes=_bounded(mem["bytes"], f"{where}.memory.bytes", "memory.bytes"), memory_source=_text(mem["source"], f"{where}.memory.source"),
            bandwidth=_bounded(bw["bytes_per_s"], f"{where}.bandwidth.bytes_per_s", "bandwidth.bytes_per_s"), bandwidth_source=_text(bw["source"], f"{where}.bandwidth.source"),
            formats=MappingProxyType(fmts), aliases=aliases,
            unsupported=MappingProxyType({str(k): str(v) for k, v in unsupported.items()}), memory_note=str(mem.get("note") or ""),
        )
        if not any(k in fmts for k in ("bf16", "fp16")):
            raise _fail(f"{where}.formats", "needs a bf16 or fp16 entry (16-bit-equivalent FLOPs are priced at that rate)")
        gpus[key] = gpu
    return Catalog(MappingProxyType(gpus), origin)


def read_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog file: at most 1 MiB of UTF-8 YAML, read as every YAML input
    is (:func:`precplan.io.parse_yaml_text`: no anchors or aliases, bounded nesting, no key twice)."""
    from precplan.io import decode_text, parse_yaml_text, read_regular_file

    if not str(path).strip() or "\0" in str(path):
        raise PrecplanError(f"hardware catalog {str(path)!r}: not a file name (give a catalog .yaml file)")
    p = Path(path)
    raw = read_regular_file(p, MAX_FILE_BYTES, "hardware catalog", missing="no such hardware catalog file")
    text = decode_text(raw, p, "a hardware catalog is UTF-8 YAML text")
    return catalog_from_mapping(parse_yaml_text(text, str(p), "hardware catalog", MAX_DEPTH, needs=5), str(p))


@lru_cache(maxsize=1)
def _bundled() -> Catalog:
    return read_catalog(bundled_dir("data") / "hardware.yaml")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The bundled catalog, or the one in ``path`` (``--hardware FILE``: used instead of the bundled one)."""
    return _bundled() if path is None else read_catalog(path)


def get_gpu(name: str | Gpu, catalog: Catalog | None = None) -> Gpu:
    """A GPU by id or alias (``h100``, ``H100-SXM``, ``2xh100``) from ``catalog`` (default: bundled)."""
    if isinstance(name, Gpu):
        return name
    return (catalog or load_catalog()).get(name)


def gpu_list(text: str, catalog: Catalog | None = None) -> list[Gpu]:
    """``h100,b200`` -> GPUs (no duplicates)."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise PrecplanError(f"`gpu`: expected a GPU name like h100 or a list like h100,b200; got {text!r}")
    gpus = [get_gpu(t, catalog) for t in items]
    ids = [g.id for g in gpus]
    if len(set(ids)) != len(ids):
        raise PrecplanError(f"`gpu` {text!r}: a GPU is listed twice")
    return gpus
