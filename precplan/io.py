"""Files and JSON: atomic writes (a file the user asked for is either whole or untouched) and\nthe one JSON serialisation of result dataclasses."""

from __future__ import annotations

import dataclasses
from importlib import resources
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 less the umask
    (mkstemp alone would leave it readable by its owner only)."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, mappings, sequences and numpy values -> JSON-ready Python data.
    Non-finite floats become ``null`` (JSON has no NaN/inf)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def bundled_dir(name: str) -> Path:
    """A folder of files shipped with precplan (``laws``, ``data``): inside the wheel
    (``precplan/_<name>``), or ``<name>/`` at the top of a source checkout."""
    packaged = resources.files("precplan") / f"_{name}"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / name


# ------------------------------------------------------------------------ hostile paths
# The rule for every file a command writes (README "Bad input"): checked before any work, one
# line and exit 2 when it cannot be written, never the same file as an input, and an existing
# file is replaced only with --force.
_TMP_EXTRA = len(".") + len(".") + 8 + len(".tmp")  # atomic_write_bytes' ".NAME.XXXXXXXX.tmp"


def _named(path: str | os.PathLike[str], option: str, what: str, example: str) -> str:
    """An output path's text, refused in one line when empty or holding a NUL character."""
    text = os.fspath(path)
    if not text.strip():
        raise _error(f"{option}: the {what} is empty (give {example})")
    if "\0" in text:
        raise _error(f"{option}: the {what} contains a NUL character")
    return text


def _error(message: str):
    from precplan.errors import PrecplanError

    return PrecplanError(message)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        try:
            return a.resolve() == b.resolve()
        except (OSError, RuntimeError):
            return False


def check_output_path(
    path: str | os.PathLike[str],
    option: str = "--out",
    inputs: "Iterable[str | os.PathLike[str] | None]" = (),
    force: bool = False,
) -> Path:
    """Refuse an output path before any work is done: an empty name, a folder, something that
    is not a regular file (a device, a FIFO), an input of the same command, an existing file
    without ``force``, a missing or unwritable folder, or a name too long for the file system.

    Parameters
    ----------
    path
        The output file the user gave.
    option
        The option it came from, for the message (``--out``, ``--plot``, ``--csv``).
    inputs
        Every file the command reads (runs file, law files, data); ``None`` entries are skipped.
    force
        Whether an existing file may be replaced (``--force``).

    Returns
    -------
    Path
        The path, unchanged.
    """
    text = _named(path, option, "file name", f"a file name, e.g. {option} result{_example_suffix(option)}")
    p = Path(text)
    for inp in inputs:
        if inp is None or not os.fspath(inp).strip():
            continue
        q = Path(os.fspath(inp))
        if q.exists() and p.exists() and _same_file(p, q) or (not p.exists() and _resolved(p) == _resolved(q)):
            raise _error(f"{option} {text}: that is an input of this command ({os.fspath(inp)}); it is never overwritten,"
                         " choose another file name")
    parent = p.parent if str(p.parent) else Path(".")
    limit = _name_max(parent)
    if len(p.name.encode("utf-8", "surrogateescape")) + _TMP_EXTRA > limit:
        raise _error(f"{option}: the file name is too long ({len(p.name)} characters; at most {limit - _TMP_EXTRA})")
    if len(os.fsencode(os.path.abspath(text))) >= 4000:
        raise _error(f"{option}: the path is too long ({len(text)} characters)")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise _error(f"{option} {text}: a part of the path is a file, not a folder") from None
    except OSError as exc:
        raise _error(f"{option} {text}: cannot use this path ({exc.strerror})") from None
    if st is not None:
        import stat as _stat

        if _stat.S_ISDIR(st.st_mode):
            raise _error(f"{option} {text}: is a folder; give a file name inside it, e.g. {os.path.join(text, 'result' + _example_suffix(option))}")
        if not _stat.S_ISREG(st.st_mode):
            raise _error(f"{option} {text}: not a regular file (a device, pipe or socket); give a file name")
        if not force:
            raise _error(f"{option} {text}: the file exists; add --force to replace it (or choose another name)")
    if not parent.exists():
        raise _error(f"{option} {text}: the folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise _error(f"{option} {text}: {parent} is not a folder")
    if not _writable_dir(parent):
        raise _error(f"{option} {text}: cannot write in the folder {parent} (permission denied)")
    return p


def check_outputs(outputs: "Sequence[tuple[str, str | None]]", inputs: "Iterable[str | os.PathLike[str] | None]" = (),
                  force: bool = False, stdout_ok: "Sequence[str]" = ("--csv",)) -> None:
    """:func:`check_output_path` on every ``(option, path)`` given (``None`` skipped, and ``-``
    for the options in ``stdout_ok``, which write to stdout), and no two outputs on one file."""
    inputs = list(inputs)
    seen: list[tuple[str, Path]] = []
    for option, path in outputs:
        if path is None or (path == "-" and option in stdout_ok):
            continue
        if path == "-":
            raise _error(f"{option} -: this option writes a file, not stdout; give a file name")
        p = check_output_path(path, option, inputs, force)
        for other_option, q in seen:
            if _resolved(p) == _resolved(q):
                raise _error(f"{option} and {other_option} name the same file ({path}); give each its own file")
        seen.append((option, p))


def _example_suffix(option: str) -> str:
    return {"--plot": ".png", "--csv": ".csv", "--out": ".yaml"}.get(option, "")


def _resolved(p: Path) -> str:
    try:
        return str(p.resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(p)


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder if folder.exists() else ".", "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _writable_dir(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, not guessed: root ignores mode bits
    but not a read-only mount)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=".precplan-", suffix=".probe", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, what: str, missing: str | None = None) -> bytes:
    """The bytes of a regular file no larger than ``max_bytes``, or one-line errors: no such
    file, a folder, a device or pipe (``/dev/zero`` would never end), too large, unreadable.
    The size is checked before reading, and the read is bounded too (a file that grows)."""
    import stat as _stat

    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _error(f"{p}: {missing or 'no such ' + what}") from None
    except IsADirectoryError:
        raise _error(f"{p}: is a folder, not a {what}") from None
    except OSError as exc:
        raise _error(f"{p}: cannot read {what} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if _stat.S_ISDIR(st.st_mode):
            raise _error(f"{p}: is a folder, not a {what}")
        if not _stat.S_ISREG(st.st_mode):
            raise _error(f"{p}: not a regular file (a device, pipe or socket); give a {what}")
        if st.st_size > max_bytes:
            raise _error(f"{p}: {st.st_size:,} bytes is too large for a {what} (at most {_size(max_bytes)})")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _error(f"{p}: cannot read {what} ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise _error(f"{p}: too large for a {what} (at most {_size(max_bytes)})")
    return data


def decode_text(raw: bytes, path: str | os.PathLike[str], kind: str) -> str:
    """A file's bytes as UTF-8 text (a byte-order mark dropped), or one-line errors saying what
    the file should be (``kind``, e.g. "a law file is UTF-8 YAML text"): not UTF-8, NUL bytes."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(f"{path}: not UTF-8 text (byte {exc.start}); {kind}") from None
    if "\0" in text:
        raise _error(f"{path}: contains NUL bytes; {kind}")
    return text


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def check_output_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Refuse a results folder that cannot be used, before any work: an empty name, a file or
    device in its place, a name too long, or no permission to create or write it."""
    text = _named(path, option, "folder name", f"a folder, e.g. {option} results")
    p = Path(text)
    for part in p.parts:
        if len(part.encode("utf-8", "surrogateescape")) + _TMP_EXTRA + len("report.json") > 255:
            raise _error(f"{option}: the folder name {part[:40]}... is too long")
    if len(os.fsencode(os.path.abspath(text))) >= 4000:
        raise _error(f"{option}: the path is too long ({len(text)} characters)")
    probe = p
    while not probe.exists():
        if probe.is_symlink():
            raise _error(f"{option} {text}: {probe} is a broken link")
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if probe.exists() and not probe.is_dir():
        what = "a file" if probe.is_file() else "not a folder"
        raise _error(f"{option} {text}: {probe} is {what}; give a folder")
    if not _writable_dir(probe):
        raise _error(f"{option} {text}: cannot write in the folder {probe} (permission denied)")
    return p


# ------------------------------------------------------------------------ hostile YAML
# The one rule for every YAML input (law files, hardware catalogs): the safe loader, without
# anchors or aliases (an alias bomb expands exponentially), with bounded nesting (deep nesting
# exhausts the composer's recursion, and flow brackets make the scanner quadratic) and with
# duplicate keys refused (YAML would silently keep the last one).
MAX_YAML_DEPTH = 32


def _flow_depth(text: str) -> int:
    """The deepest nesting of flow brackets ([ and {, counted even inside quotes)."""
    b = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    step = (b == ord("[")).astype(np.int64) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def parse_yaml_text(text: str, origin: str, what: str, max_depth: int = MAX_YAML_DEPTH, needs: int = 4) -> Any:
    """The YAML data of an input file, or one-line errors naming ``origin``: anchors or aliases,
    nesting deeper than ``max_depth`` (``needs``: how deep the format goes, for the message), a
    key given twice in one mapping, malformed YAML.

    Parameters
    ----------
    text
        The file's text (see :func:`decode_text`).
    origin
        The file's name, for messages.
    what
        What the file is ("law file", "hardware catalog"), for messages.
    max_depth, needs
        The nesting bound, and the nesting the format itself uses.

    Returns
    -------
    Any
        The parsed data (plain mappings, lists and scalars).

    Raises
    ------
    PrecplanError
        On any of the above, naming the file and the line.

    Example
    -------
    >>> parse_yaml_text("a: 1\\n", "x.yaml", "law file")
    {'a': 1}
    """
    import yaml

    if _flow_depth(text) > max_depth:
        raise _error(f"{origin}: brackets nested more than {max_depth} levels deep (a {what} needs {needs})")

    class Refused(Exception):
        pass

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise Refused(f"line {line}: YAML anchors and aliases (&name, *name) are not allowed in a {what}")
            self.depth += 1
            try:
                if self.depth > max_depth:
                    raise Refused(f"line {line}: nested more than {max_depth} levels deep (a {what} needs {needs})")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    dup = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the constructor says so below
                    continue
                if dup:
                    raise Refused(f"line {key_node.start_mark.line + 1}: the key {_oneline(key)} is given twice;"
                                  f" a {what} names each key once")
            return super().construct_mapping(node, deep)

    loader = Loader(text)
    try:
        return loader.get_single_data()
    except Refused as exc:
        raise _error(f"{origin}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise _error(f"{origin}: malformed YAML{where}: {problem}") from None
    except RecursionError:  # pragma: no cover - bounded by max_depth
        raise _error(f"{origin}: nested too deeply") from None
    finally:
        loader.dispose()


def _oneline(value: Any) -> str:
    """A value for a one-line message: plain text (no numpy reprs), control characters escaped."""
    text = value.item() if isinstance(value, np.generic) else value
    return repr(str(text)) if isinstance(text, str) else repr(text)
