"""Every ``validate`` argument checked before any training or reading (README "Bad input"):
one line and exit 2 for what cannot work, before the first run starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from precplan.errors import PrecplanError

__all__ = ["MAX_SEED", "REPORT_FILES", "check_validate_args"]

MAX_SEED = 2**32 - 1
REPORT_FILES = ("report.md", "report.json")


def check_validate_args(
    law: Any, dirs: Sequence[str] | None, out: str | None, data: str | None, law_arg: str, preset: str | None,
    report: bool, list_only: bool, seed: int, act_granularity: str, fit_grid: str, plot: str | None, force: bool,
    checkpoints: int | None = None, curves_out: str | None = None,
) -> Path | None:
    """Raise on the first bad argument; return the folder ``--report`` writes report.md/json to."""
    from precplan.cli._common import check_outputs

    _check_options(law, preset, report, list_only, seed, act_granularity, fit_grid, checkpoints, curves_out, data)
    inputs: list[str | None] = [law_arg, data]
    report_dir = None
    if report:
        report_dir = _check_report_folders(dirs, out, inputs)
    elif out is not None and list_only:  # --list only reads the folder (what is done)
        if not out.strip() or (Path(out).exists() and not Path(out).is_dir()):
            raise PrecplanError(f"--out {out!r}: not a folder; give the results folder to list what is done in it")
    outputs = {"--plot": plot, "--curves-out": curves_out}
    if not report and out and not Path(out).exists():
        # files in the results folder training is about to create: checked with it (their names here)
        if plot is not None and _same_place(Path(plot).parent, Path(out)):
            from precplan.plots import plot_format

            plot_format(plot)
            outputs["--plot"] = None
        if curves_out is not None and _same_place(Path(curves_out).parent, Path(out)):
            outputs["--curves-out"] = None
    check_outputs(outputs, inputs, force)
    return report_dir


def _check_options(
    law: Any, preset: str | None, report: bool, list_only: bool, seed: int, act_granularity: str, fit_grid: str,
    checkpoints: int | None, curves_out: str | None, data: str | None,
) -> None:
    """The options checked before any folder is looked at: the law, the mode, the preset, seed,
    granularity, fit grid, checkpoints, the curves path and --data."""
    from precplan.fit import check_grid

    if not law.has_precision:
        raise PrecplanError(
            f"law {law.id!r} has no precision terms, and validate checks precision terms: use a precision law such as"
            " --law kumar2024 (precplan laws list shows each law's form)"
        )
    if report and list_only:
        raise PrecplanError("give --report (analyse stores) or --list (show the preset's runs), not both")
    if preset is not None and not report:
        try:  # the presets need torch (model shapes); without it the command says how to install it
            from precplan.validate import PRESETS
        except ImportError:
            PRESETS = {}
        if PRESETS and preset not in PRESETS:
            raise PrecplanError(f"--preset {preset!r}: unknown preset (valid: {', '.join(PRESETS)})")
    if isinstance(seed, bool) or not 0 <= int(seed) <= MAX_SEED:
        raise PrecplanError(f"--seed must be a whole number from 0 to {MAX_SEED}; got {seed}")
    if act_granularity not in ("tensor", "token"):
        raise PrecplanError(f"--act-granularity must be tensor or token; got {act_granularity!r}")
    check_grid(fit_grid)
    if checkpoints is not None:
        from precplan.validate import MAX_CHECKPOINTS

        if report:
            raise PrecplanError("--checkpoints is a training option; --report exports the checkpoints the stores hold"
                                " (--curves-out FILE)")
        if isinstance(checkpoints, bool) or not 0 <= checkpoints <= MAX_CHECKPOINTS:
            raise PrecplanError(f"--checkpoints must be a whole number from 0 to {MAX_CHECKPOINTS} (each checkpoint before"
                                f" the final step is a pass over the validation set); got {checkpoints}")
    if curves_out is not None:
        if list_only:
            raise PrecplanError("--curves-out writes the curves of trained runs: give it with --report DIR or when training,"
                                " not with --list")
        from precplan.validate import check_curves_path

        check_curves_path(curves_out)
    if data is not None and not data.strip():
        raise PrecplanError("--data: empty; give a text file or folder, a .bin of uint16 ids, or leave --data out")


def _check_report_folders(dirs: Sequence[str] | None, out: str | None, inputs: list[str | None]) -> Path:
    """``--report``: the folders (or store files) read, their stores appended to ``inputs``; the
    folder report.md/json go to, refused where a report file is an input or not a regular file."""
    from precplan.io import check_output_dir

    folders = list(dirs or ([out] if out else []))
    if not folders:
        raise PrecplanError("--report needs result folders: precplan validate --report DIR [DIR ...]")
    for f in folders:
        if not str(f).strip():
            raise PrecplanError("--report: an empty folder name")
        p = Path(f)
        if not p.exists():
            raise PrecplanError(f"{p}: no such folder")
        if not (p.is_dir() or p.is_file()):
            raise PrecplanError(f"{p}: not a folder or a store file")
        inputs += [str(q) for q in ([p] if p.is_file() else sorted(p.glob("runs*.jsonl")))]
    first = Path(out) if out else Path(folders[0])
    report_dir = first.parent if (not out and first.is_file()) else first
    check_output_dir(report_dir, "--out")
    for name in REPORT_FILES:
        target = report_dir / name
        if any(Path(i).exists() and target.exists() and target.samefile(i) for i in inputs if i):
            raise PrecplanError(f"{target} is an input of this command; it is never overwritten (give --out DIR)")
        if target.exists() and not target.is_file():
            raise PrecplanError(f"{target}: not a regular file; remove it or give another --out")
    return report_dir


def _same_place(a: Path, b: Path) -> bool:
    import os

    return os.path.abspath(a) == os.path.abspath(b)
