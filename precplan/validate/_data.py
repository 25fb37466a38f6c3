"""Token sources for ``precplan validate``: the built-in synthetic language, the Python source
of the installed environment, text, nanoGPT .bin.

Every source yields training windows of ``seq_len + 1`` token ids (inputs and shifted
targets) and a fixed validation set. The training stream of a run depends on the run's
seed; the validation set does not (every run is scored on the same tokens).

The built-in source, ``zipf-facts``, needs no download and never runs out. It is a synthetic
language of "facts" with Zipf-distributed frequencies; a document is a stream of phrases

    <sep> k1 k2 k3 v1 v2 v3 v4 v5 v6

where rule r ~ Zipf(s) over 1..R (R = 16.5M, s = 1.3) picks the key k1 k2 k3 (the base-255
digits of a fixed pseudo-random permutation of r) and the value v1..v6 (a fixed pseudo-random
function of r and the position); each value token is replaced by a uniformly random one with
probability 0.1 (irreducible noise). A model can only predict a value by memorizing its
rule, so loss is set by how many rules it holds: capacity grows with parameters N, and a rule
is learnt once seen often enough, which takes more tokens D the rarer the rule. With
Zipf-distributed rules the mass of the rules not yet learnt falls as a power of N and of D
(the "quantization model" of neural scaling, Michaud et al. 2023), so the loss follows
E + A/N^alpha + B/D^beta over a wide range, and, as in the paper, low-precision weights,
which hold fewer bits per parameter, lose effective parameters.

``python-source`` is real human-written text that every machine with the ``validate`` extra
has: the ``.py`` files of the running Python environment (standard library and
site-packages), de-duplicated by content, split into training and validation by file (a
hash of the content decides, so the split does not depend on the order files are found in),
read as bytes (vocabulary 256). It is code, not natural language.
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from precplan.errors import PrecplanError

__all__ = [
    "CODE_NOTE", "MIN_TOKENS", "PYTHON_SOURCE", "TEXT_SKIP", "VAL_FRACTION", "ArraySource", "Source", "ZipfFacts",
    "load_source", "python_roots", "python_source",
]

VAL_FRACTION = 0.05
PYTHON_SOURCE = "python-source"
CODE_NOTE = ("python-source is Python code, not natural language: its losses and fitted constants are not those of"
             " the text the law was fit on (Kumar et al. 2024 trained on Dolma)")
TEXT_SKIP = {".bin", ".npy", ".pt", ".gz", ".zip", ".png", ".jpg", ".pdf"}


class Source:
    """What training needs from a token source."""

    name: str = ""
    vocab_size: int = 0
    fingerprint: str = ""
    train_tokens: int | None = None  # None: unlimited (never repeats)

    def batches(self, batch_size: int, seq_len: int, seed: int) -> Iterator[np.ndarray]:
        """Endless (batch_size, seq_len + 1) int64 arrays of training tokens."""
        raise NotImplementedError

    def validation(self, n_tokens: int, seq_len: int) -> np.ndarray:
        """The fixed validation set: (n_seq, seq_len + 1) int64, about ``n_tokens`` targets."""
        raise NotImplementedError

    def repeat_warning(self, tokens: int) -> str | None:
        """A warning when training on ``tokens`` tokens would repeat data."""
        if self.train_tokens is not None and tokens > self.train_tokens:
            return (
                f"training on {tokens:,} tokens repeats data: {self.name} has {self.train_tokens:,} training tokens"
                f" ({tokens / self.train_tokens:.1f} epochs); losses are then not comparable with the law's"
            )
        return None


@dataclass(frozen=True)
class ZipfFacts(Source):
    """The built-in synthetic language (see the module docstring)."""

    seed: int = 0
    zipf: float = 1.3
    key_len: int = 3
    value_len: int = 6
    noise: float = 0.1
    vocab_size: int = 256  # token 0 is the separator, 1..255 the key/value alphabet

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"zipf-facts (built-in synthetic language, seed {self.seed})"

    @property
    def fingerprint(self) -> str:  # type: ignore[override]
        return f"zipf-facts-s{self.seed}-z{self.zipf}-k{self.key_len}-v{self.value_len}-n{self.noise}"

    @property
    def rules(self) -> int:
        return (self.vocab_size - 1) ** self.key_len

    @property
    def phrase_len(self) -> int:
        return 1 + self.key_len + self.value_len

    def _phrases(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` phrases as an (n, phrase_len) array."""
        rank = rng.zipf(self.zipf, size=n)
        while np.any(big := rank > self.rules):  # truncate the Zipf law at R (rare resamples)
            rank[big] = rng.zipf(self.zipf, size=int(big.sum()))
        r = rank.astype(np.uint64) - np.uint64(1)
        alphabet = np.uint64(self.vocab_size - 1)
        # A fixed bijection of 0..R-1 (multiplier coprime to R = 255^k) scatters ranks over keys.
        key_id = (r * np.uint64(2654435761) + np.uint64(self.seed * 97 + 12345)) % np.uint64(self.rules)
        out = np.empty((n, self.phrase_len), dtype=np.int64)
        out[:, 0] = 0
        for j in range(self.key_len):
            out[:, 1 + j] = (key_id // alphabet ** np.uint64(self.key_len - 1 - j)) % alphabet + np.uint64(1)
        for j in range(self.value_len):
            value = _mix(r * np.uint64(self.value_len) + np.uint64(j), self.seed)
            out[:, 1 + self.key_len + j] = value % alphabet + np.uint64(1)
        noisy = rng.random((n, self.value_len)) < self.noise
        out[:, 1 + self.key_len :][noisy] = rng.integers(1, self.vocab_size, size=int(noisy.sum()))
        return out

    def _windows(self, rng: np.random.Generator, n_seq: int, seq_len: int) -> np.ndarray:
        per_row = -(-(seq_len + 1) // self.phrase_len) + 1
        rows = self._phrases(rng, n_seq * per_row).reshape(n_seq, per_row * self.phrase_len)
        start = rng.integers(0, self.phrase_len, size=(n_seq, 1))  # windows start anywhere in a phrase
        return np.take_along_axis(rows, start + np.arange(seq_len + 1), axis=1)

    def batches(self, batch_size: int, seq_len: int, seed: int) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.seed, seed, 1])
        while True:
            yield self._windows(rng, batch_size, seq_len)

    def validation(self, n_tokens: int, seq_len: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2**31 - 1, 2])
        return self._windows(rng, max(1, -(-n_tokens // seq_len)), seq_len)


def _mix(x: np.ndarray, seed: int) -> np.ndarray:
    """A fixed pseudo-random function of uint64 ``x`` (splitmix64's finalizer)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class ArraySource(Source):
    """Tokens held in arrays (text bytes or a memory-mapped .bin): read in shuffled windows."""

    def __init__(self, train: np.ndarray, val: np.ndarray, vocab_size: int, name: str, fingerprint: str):
        if len(train) < 2 or len(val) < 2:
            raise PrecplanError(f"{name}: too little data ({len(train)} training, {len(val)} validation tokens)")
        self.train, self.val = train, val
        self.vocab_size, self.name, self.fingerprint = vocab_size, name, fingerprint
        self.train_tokens = len(train) - 1
        # memory-mapped files and their sizes now: a file truncated under a running sweep would
        # kill the process with SIGBUS on the next read, so every batch checks them first
        self._mapped = {str(a.filename): os.stat(a.filename).st_size for a in (train, val)
                        if isinstance(a, np.memmap) and getattr(a, "filename", None)}

    def check_files(self) -> None:
        """Raise (an OSError, one line) when a memory-mapped corpus file shrank since it was opened."""
        for path, size in self._mapped.items():
            try:
                now = os.stat(path).st_size
            except OSError as exc:
                raise OSError(f"--data {path}: cannot read the corpus any more ({exc.strerror})") from None
            if now < size:
                raise OSError(f"--data {path}: the file shrank from {size:,} to {now:,} bytes while training (truncated or"
                              " replaced?); a memory-mapped corpus must stay whole during a sweep")

    def batches(self, batch_size: int, seq_len: int, seed: int) -> Iterator[np.ndarray]:
        """Non-overlapping windows in a new random order each epoch (an epoch past the first repeats data)."""
        n = max(1, (len(self.train) - 1) // seq_len)
        rng = np.random.default_rng(seed)
        order, pos = rng.permutation(n), 0
        while True:
            idx = []
            while len(idx) < batch_size:
                if pos == n:
                    order, pos = rng.permutation(n), 0
                take = min(batch_size - len(idx), n - pos)
                idx.extend(order[pos : pos + take])
                pos += take
            self.check_files()
            yield np.stack([self._window(self.train, int(i) * seq_len, seq_len) for i in idx])

    @staticmethod
    def _window(tokens: np.ndarray, start: int, seq_len: int) -> np.ndarray:
        w = np.asarray(tokens[start : start + seq_len + 1], dtype=np.int64)
        if len(w) < seq_len + 1:  # a corpus shorter than one window: wrap around
            w = np.resize(np.asarray(tokens, dtype=np.int64), seq_len + 1)
        return w

    def check_validation(self, n_tokens: int, seq_len: int) -> None:
        """Refuse an evaluation of ``n_tokens`` tokens that the validation split cannot fill
        (a smaller evaluation would make the losses noisier than the preset promises)."""
        have = (len(self.val) - 1) // seq_len
        if have < -(-n_tokens // seq_len):
            raise PrecplanError(
                f"--data {self.name}: its validation split holds {have * seq_len:,} tokens in windows of {seq_len},"
                f" but the runs are evaluated on {n_tokens:,} tokens: give more data (validation is the last"
                f" {VAL_FRACTION:.0%} of a file or folder, or val.bin) or a preset with fewer val_tokens")

    def validation(self, n_tokens: int, seq_len: int) -> np.ndarray:
        self.check_validation(n_tokens, seq_len)
        self.check_files()
        n_seq = max(1, -(-n_tokens // seq_len))
        return np.stack([self._window(self.val, i * seq_len, seq_len) for i in range(n_seq)])


def load_source(path: str | None, seed: int = 0, val_fraction: float = VAL_FRACTION,
                need: tuple[int, int] | None = None) -> Source:
    """``None``: the built-in source. ``python-source``: the installed environment's Python
    files (see the module docstring), read until ``need`` = (training, validation) tokens are
    there (default: all of them). A ``.bin`` file or a folder with ``train.bin``/``val.bin``
    (nanoGPT uint16 token ids); otherwise a text file or a folder of text files, as bytes."""
    if path is None:
        return ZipfFacts(seed=seed)
    if path == PYTHON_SOURCE:
        return python_source(*(need or (None, None)))
    p = Path(path)
    if not p.exists():
        raise PrecplanError(f"--data {path}: no such file or folder")
    if p.is_dir() and (p / "train.bin").is_file() and (p / "val.bin").is_file():
        train, val = _bin(p / "train.bin"), _bin(p / "val.bin")
        return ArraySource(train, val, _vocab(train, val), f"{p} (uint16 tokens)", _fingerprint([p / "train.bin", p / "val.bin"]))
    _check_kind(p, path)
    if p.suffix == ".bin":
        tokens = _bin(p)
        train, val = _split(tokens, val_fraction)
        return ArraySource(train, val, _vocab(train, val), f"{p} (uint16 tokens)", _fingerprint([p]))
    files = [p] if p.is_file() else _text_files(p)
    if not files:
        raise PrecplanError(f"--data {path}: no text files in this folder (nor train.bin/val.bin)")
    data = np.frombuffer(b"".join(f.read_bytes() for f in files), dtype=np.uint8)
    train, val = _split(data, val_fraction)
    return ArraySource(train, val, 256, f"{p} ({len(files)} text file(s) as bytes)", _fingerprint(files))


def _check_kind(p: Path, path: str) -> None:
    """Messages that say what the data is: a device or pipe (never ends), half of a token pair."""
    import stat

    mode = p.stat().st_mode
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise PrecplanError(f"--data {path}: not a regular file or folder (a device, pipe or socket); give a text file or"
                            " folder, a .bin of uint16 ids, or a folder with train.bin and val.bin")
    if stat.S_ISDIR(mode):
        halves = [n for n in ("train.bin", "val.bin") if (p / n).exists()]
        if len(halves) == 1:
            other = "val.bin" if halves[0] == "train.bin" else "train.bin"
            raise PrecplanError(f"--data {path}: has {halves[0]} but no {other}; a token folder needs both (or give the"
                                f" .bin file itself: its last {VAL_FRACTION:.0%} is then the validation split)")


def python_roots() -> list[Path]:
    """Where the running environment keeps Python files: the standard library and site-packages."""
    paths = sysconfig.get_paths()
    roots = []
    for key in ("stdlib", "purelib", "platlib"):
        p = Path(paths[key]).resolve()
        if p.is_dir() and not any(p == r or r in p.parents for r in roots):
            roots.append(p)
    return roots


def python_source(train_tokens: int | None = None, val_tokens: int | None = None,
                  roots: list[Path] | None = None) -> "ArraySource":
    """The ``python-source`` corpus: ``.py`` files under ``roots`` (default :func:`python_roots`),
    visited in the order of a hash of their path relative to their root (the same on every
    machine with the same environment), de-duplicated by content; a file whose content hash
    falls in the first 1/20 of the hash range goes to validation, the rest to training. Reading
    stops once both splits hold the tokens asked for (None: read everything)."""
    roots = roots or python_roots()
    files = []
    for k, root in enumerate(roots):
        for dirpath, dirnames, names in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
            for n in names:
                if n.endswith(".py"):
                    f = Path(dirpath) / n
                    rel = f"{k}/{f.relative_to(root).as_posix()}"
                    files.append((hashlib.sha256(rel.encode()).digest(), f))
    files.sort()
    seen: set[bytes] = set()
    parts: dict[str, list[bytes]] = {"train": [], "val": []}
    sizes = {"train": 0, "val": 0}
    want = {"train": train_tokens, "val": val_tokens}
    used = 0
    for _, f in files:
        if all(want[k] is not None and sizes[k] >= want[k] + 1 for k in sizes):
            break
        try:
            data = f.read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).digest()
        if not data or digest in seen:
            continue
        seen.add(digest)
        split = "val" if int.from_bytes(digest[:4], "big") < 2**32 // 20 else "train"
        if want[split] is not None and sizes[split] >= want[split] + 1:
            continue
        parts[split].append(digest + data)
        sizes[split] += len(data)
        used += 1
    arrays, h = {}, hashlib.sha256()
    for k in ("train", "val"):
        parts[k].sort()  # content-hash order: the corpus does not depend on where the files lie
        for blob in parts[k]:
            h.update(blob[:32])
        arrays[k] = np.frombuffer(b"".join(blob[32:] for blob in parts[k]), dtype=np.uint8)
    if len(arrays["train"]) < 2 or len(arrays["val"]) < 2:
        raise PrecplanError(f"--data {PYTHON_SOURCE}: found no Python files under {', '.join(map(str, roots))}")
    mb = (len(arrays["train"]) + len(arrays["val"])) / 1e6
    name = (f"{PYTHON_SOURCE} ({used:,} de-duplicated .py files of this Python environment, {mb:.1f} MB as bytes;"
            " code, not natural language)")
    return ArraySource(arrays["train"], arrays["val"], 256, name, f"{PYTHON_SOURCE}-{h.hexdigest()[:12]}")


def _bin(path: Path) -> np.ndarray:
    if not path.is_file():
        raise PrecplanError(f"--data {path}: not a regular file")
    if path.stat().st_size % 2:
        raise PrecplanError(f"--data {path}: a .bin must hold uint16 token ids (odd byte count)")
    if path.stat().st_size < 2 * MIN_TOKENS:
        raise PrecplanError(f"--data {path}: {path.stat().st_size // 2} tokens; a .bin needs at least {MIN_TOKENS} uint16 token ids")
    return np.memmap(path, dtype=np.uint16, mode="r")


def _vocab(*arrays: np.ndarray) -> int:
    """Largest token id + 1, rounded up to a multiple of 64 (as nanoGPT pads GPT-2's 50257)."""
    top = max(int(a.max()) for a in arrays) + 1
    return 64 * -(-top // 64)


MIN_TOKENS = 64  # below this there is not one training window and one validation window


def _split(tokens: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    if len(tokens) < MIN_TOKENS:
        raise PrecplanError(f"--data: {len(tokens)} tokens (bytes of text) is too little data; give at least {MIN_TOKENS}")
    n_val = max(2, int(len(tokens) * val_fraction))
    return tokens[:-n_val], tokens[-n_val:]


def _text_files(folder: Path) -> list[Path]:
    return sorted(
        f for f in folder.rglob("*")
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
        and f.suffix.lower() not in TEXT_SKIP
    )


def _fingerprint(files: list[Path]) -> str:
    """Names, sizes and the first and last MiB of the files: cheap, and changes when data does."""
    h = hashlib.sha256()
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 1 << 20:
                fh.seek(max(1 << 20, size - (1 << 20)), os.SEEK_SET)
                h.update(fh.read())
    return h.hexdigest()[:12]
