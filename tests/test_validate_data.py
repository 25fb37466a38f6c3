"""Token sources of ``precplan validate``: the built-in synthetic language and file data."""

from __future__ import annotations

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.validate._data import ArraySource, ZipfFacts, load_source


def phrases(src: ZipfFacts, n: int, seed: int = 0) -> np.ndarray:
    return src._phrases(np.random.default_rng(seed), n)


def test_zipf_facts_structure_and_determinism():
    src = ZipfFacts()
    a = next(src.batches(4, 64, seed=3))
    b = next(src.batches(4, 64, seed=3))
    c = next(src.batches(4, 64, seed=4))
    assert a.shape == (4, 65) and a.dtype == np.int64
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() < src.vocab_size
    # the validation set does not depend on the run seed and is identical across calls
    assert np.array_equal(src.validation(1000, 64), ZipfFacts().validation(1000, 64))
    p = phrases(src, 2000)
    assert (p[:, 0] == 0).all() and (p[:, 1:] > 0).all()  # separator, then alphabet tokens


def test_a_rule_always_has_the_same_key_and_value_up_to_noise():
    src = ZipfFacts()
    p = phrases(src, 200_000)
    keys = p[:, 1 : 1 + src.key_len]
    uniq, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    rows = p[inverse.reshape(-1) == np.argmax(counts), 1 + src.key_len :]  # the most frequent rule
    assert len(rows) > 1000
    majority = np.array([np.bincount(col).argmax() for col in rows.T])
    # a noisy token is uniform over the 255-letter alphabet, so it hits the right one 1/255 of the time
    assert (rows != majority).mean() == pytest.approx(src.noise * (1 - 1 / 255), abs=0.02)


def test_rule_frequencies_follow_zipf():
    src = ZipfFacts()
    p = phrases(src, 400_000, seed=1)
    _, counts = np.unique(p[:, 1 : 1 + src.key_len], axis=0, return_counts=True)
    counts = np.sort(counts)[::-1]
    ranks = np.arange(1, counts.size + 1)
    sel = (ranks >= 3) & (ranks <= 300)  # well-sampled head, away from rank 1
    slope = np.polyfit(np.log(ranks[sel]), np.log(counts[sel]), 1)[0]
    assert slope == pytest.approx(-src.zipf, abs=0.1)


def test_built_in_source_never_repeats():
    src = ZipfFacts()
    assert src.train_tokens is None and src.repeat_warning(10**12) is None


def test_text_folder_as_bytes(tmp_path):
    (tmp_path / "a.txt").write_text("hello world " * 500)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("more text " * 500)
    (tmp_path / ".hidden").write_text("skip me")
    src = load_source(str(tmp_path))
    assert isinstance(src, ArraySource) and src.vocab_size == 256
    assert src.train_tokens + 1 + len(src.val) == len("hello world " * 500) + len("more text " * 500)
    batch = next(src.batches(3, 32, seed=0))
    assert batch.shape == (3, 33)
    text = bytes(batch[0].astype(np.uint8)).decode()
    assert text in ("hello world " * 500 + "more text " * 500)
    warn = src.repeat_warning(10 * src.train_tokens)
    assert warn and "repeats data" in warn and "10.0 epochs" in warn
    assert src.repeat_warning(src.train_tokens // 2) is None


def test_epochs_visit_every_window_once(tmp_path):
    data = np.arange(1000, dtype=np.uint16)
    src = ArraySource(data[:801], data[801:], 1024, "t", "t")
    it = src.batches(4, 16, seed=0)
    starts = [int(row[0]) for _ in range(12) for row in next(it)]
    assert sorted(starts[:48]) == sorted(set(starts[:48]))  # first epoch (50 windows): no repeats yet
    assert len(set(starts)) == 48


def test_bin_file_and_train_val_folder(tmp_path):
    ids = (np.arange(5000) % 700).astype(np.uint16)
    ids.tofile(tmp_path / "data.bin")
    src = load_source(str(tmp_path / "data.bin"))
    assert src.vocab_size == 704  # max id 699 + 1, rounded up to a multiple of 64
    v = src.validation(224, 32)  # 250 validation ids: 7 windows of 32 (more would be an error)
    assert v.shape[1] == 33 and v.max() < 700
    d = tmp_path / "shakespeare"
    d.mkdir()
    ids[:4000].tofile(d / "train.bin")
    ids[4000:].tofile(d / "val.bin")
    src2 = load_source(str(d))
    assert src2.train_tokens == 3999 and np.array_equal(src2.val, ids[4000:])


def test_bad_data_paths(tmp_path):
    with pytest.raises(PrecplanError, match="no such file"):
        load_source(str(tmp_path / "nope"))
    (tmp_path / "odd.bin").write_bytes(b"abc")
    with pytest.raises(PrecplanError, match="uint16"):
        load_source(str(tmp_path / "odd.bin"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PrecplanError, match="no text files"):
        load_source(str(empty))


def test_a_validation_split_smaller_than_the_evaluation_is_an_error(tmp_path):
    data = np.arange(1000, dtype=np.uint16)
    src = ArraySource(data[:801], data[801:], 1024, "small.txt", "t")  # 199 validation tokens
    assert src.validation(128, 32).shape == (4, 33)
    with pytest.raises(PrecplanError, match="validation split holds 192 tokens .* evaluated on 256 tokens"):
        src.validation(256, 32)


def test_python_source_is_deduplicated_split_by_file_and_capped(tmp_path):
    from precplan.validate._data import python_source

    lib, site = tmp_path / "lib", tmp_path / "site"
    texts = {f"mod{i}.py": f"def f{i}(x):\n    return x * {i}  # {'#' * i}\n" for i in range(200)}
    for root in (lib, site):
        (root / "pkg" / "__pycache__").mkdir(parents=True)
        for name, text in texts.items():  # every file twice, once under each root: duplicates
            (root / "pkg" / name).write_text(text)
        (root / "pkg" / "__pycache__" / "x.py").write_text("cached copy\n")
        (root / "pkg" / "data.txt").write_text("not python\n")
    src = python_source(roots=[lib, site])
    total = sum(len(t) for t in texts.values())
    assert len(src.train) + len(src.val) == total  # duplicates read once; no .txt, no __pycache__
    assert src.vocab_size == 256 and "code, not natural language" in src.name
    assert 0 < len(src.val) < 0.2 * total  # ~1/20 of the files by content hash
    val_text = bytes(src.val).decode()
    for text in texts.values():  # a file is wholly in one split
        assert (text in val_text) != (text in bytes(src.train).decode())
    # the same corpus, and fingerprint, whatever the roots' order or location
    again = python_source(roots=[site, lib])
    assert np.array_equal(again.train, src.train) and again.fingerprint == src.fingerprint
    # capped: reading stops once both splits have what the preset needs
    small = python_source(1000, 50, roots=[lib, site])
    assert 1000 < len(small.train) < 1200 and len(small.val) >= 51 and small.fingerprint != src.fingerprint


def test_python_source_of_this_environment_and_the_cli_refuses_a_small_data_file(tmp_path):
    from typer.testing import CliRunner

    from precplan.cli import app

    src = load_source("python-source", need=(300_000, 20_000))
    assert src.train_tokens >= 300_000 and len(src.val) > 20_000 and src.fingerprint.startswith("python-source-")
    assert "import" in bytes(src.train[:200_000]).decode("utf-8", "replace")
    (tmp_path / "tiny.txt").write_text("too little text. " * 200)  # 3.4 KB: 170 validation bytes
    res = CliRunner().invoke(app, ["validate", "--preset", "smoke", "--data", str(tmp_path / "tiny.txt"), "--list",
                                   "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "evaluated on 8,192 tokens" in res.stderr
