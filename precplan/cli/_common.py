"""What every command shares: the law options, number parsing and the exit-2 error path."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, TypeVar

import typer

from precplan.cli._flags import cli_message
from precplan.errors import PrecplanError

__all__ = [
    "BASE_HELP", "LAW_HELP", "ActivationsOpt", "BaseOpt", "ForceOpt", "JsonOpt", "KvOpt", "LawOpt", "LevelOpt",
    "OutputError", "PlotOpt", "WeightsOpt", "check_outputs", "fail", "handle_errors", "law_warnings", "load_cli_law",
    "load_cli_laws", "parse_level", "print_json_warnings", "resolve_precisions", "split_law_list",
]

F = TypeVar("F", bound=Callable[..., Any])

LAW_HELP = "Law: a bundled name (precplan laws list) or a path to a law YAML file."
BASE_HELP = (
    "Take the base terms (E, A, B, alpha, beta) from this law and the precision/PTQ terms from --law"
    " (an assumption; the output says so)."
)
LawOpt = typer.Option("kumar2024", "--law", help=LAW_HELP)
BaseOpt = typer.Option(None, "--base", help=BASE_HELP)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON (the scripting interface) instead of tables.")
PlotOpt = typer.Option(None, "--plot", help="Also draw the result to FILE (.png, .svg or .pdf; needs the plot extra).")
WeightsOpt = typer.Option(None, "--weights", help="Training precision of the weights.")
ActivationsOpt = typer.Option(None, "--activations", help="Training precision of the activations.")
KvOpt = typer.Option(None, "--kv", help="Training precision of attention (K, V).")
ForceOpt = typer.Option(False, "--force", help="Replace output files that already exist (an input file is never overwritten).")


class OutputError(Exception):
    """Writing to stdout failed (kept from typer, which would exit 1 without a word on a closed pipe)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def fail(message: str, command: str | None = None) -> None:
    """One line on stderr (library argument names shown as ``command``'s flags), exit code 2."""
    text = cli_message(message, command).replace("\r", "\\r").replace("\n", "\\n")  # always one line
    sys.stderr.write(f"error: {text}\n")
    raise typer.Exit(2)


def handle_errors(fn: F) -> F:
    """Turn a :class:`PrecplanError` (bad input, unknown law, out of domain) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PrecplanError as exc:
            fail(str(exc), fn.__name__)
        except FileNotFoundError as exc:
            fail(f"{exc.filename}: no such file")
        except OSError as exc:
            if exc.filename is not None:  # a file the checks before the work could not foresee
                fail(f"{exc.filename}: {exc.strerror or type(exc).__name__}")
            raise OutputError(exc) from exc  # stdout: full, closed or a closed pipe (cli.main says so)
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def check_outputs(outputs: dict[str, str | None], inputs: list[str | None], force: bool) -> None:
    """Check every file the command will write, before any work (README "Bad input"): one
    line and exit 2 for a path that cannot be written, that is an input, or that exists
    without ``--force``. ``outputs`` maps the option (``--out``, ``--plot``, ``--csv``) to its
    value; ``None`` and ``-`` (stdout) are skipped."""
    from precplan.io import check_outputs as check

    inputs = list(inputs) + _bundled_files()  # a source checkout's laws/ and data/ are never output targets
    if outputs.get("--plot") is not None:
        from precplan.plots import check_plot_path

        check_plot_path(outputs["--plot"], inputs, force)
    check(list(outputs.items()), inputs, force)


def _bundled_files() -> list[str]:
    from precplan.io import bundled_dir

    return [str(p) for name in ("laws", "data") for p in sorted(bundled_dir(name).glob("*")) if p.is_file()]


def print_json_warnings(warnings) -> None:
    """With --json the warnings are in the JSON and, as the README says, on stderr too (one
    ``warning: ...`` line each), so a script that only reads stdout still shows them."""
    from precplan.cli._render import print_warnings

    print_warnings(warnings)


def load_cli_law(law: str, base: str | None):
    """The law a command runs with (``--law``, optionally composed with ``--base``)."""
    from precplan.laws import load_law

    return load_law(law, base)


def law_warnings(law) -> list[str]:
    """Warnings every command prints about its law: a composition is an assumption (the library's
    :func:`precplan.optimize.composition_warnings`, which every plan already carries)."""
    from precplan.optimize import composition_warnings

    return composition_warnings(law)


def resolve_precisions(precision: str | None, weights: str | None, activations: str | None, kv: str | None):
    """``--precision P`` sets all three; ``--weights/--activations/--kv`` override one each (default 16)."""
    from precplan.errors import PrecplanError
    from precplan.precision import parse_precision

    if precision is not None and any(x is not None for x in (weights, activations, kv)):
        raise PrecplanError("give either --precision (all operands) or --weights/--activations/--kv, not both")
    default = parse_precision(precision if precision is not None else 16)
    return tuple(default if x is None else parse_precision(x) for x in (weights, activations, kv))


LevelOpt = typer.Option(
    "0.8", "--level",
    help="Level of the intervals drawn from the law's coefficient samples, between 0 and 1 (default 0.8: 80% intervals).",
)


def parse_level(text: str) -> float:
    """``--level`` as a number in (0, 1); anything else is one line and exit 2."""
    from precplan.laws import check_level

    try:
        value = float(text)
    except ValueError:
        raise PrecplanError(f"--level must be a number between 0 and 1 (e.g. 0.8 for 80% intervals); got {text!r}") from None
    return check_level(value)


def split_law_list(law: str) -> list[str]:
    """``--law a,b,c`` as names (a law file whose path contains a comma is taken whole)."""
    from pathlib import Path

    if "," not in law or Path(law).is_file():
        return [law]
    names = [x.strip() for x in law.split(",")]
    if any(not x for x in names):
        raise PrecplanError(f"--law {law!r} has an empty entry: give names separated by commas, e.g. kumar2024,besiroglu2024,hoffmann2022")
    dup = next((x for x in names if names.count(x) > 1), None)
    if dup is not None:
        raise PrecplanError(f"--law lists {dup!r} twice")
    return names


def load_cli_laws(law: str, base: str | None) -> list:
    """Every law of ``--law`` (one, or a comma list for the side-by-side spread), each composed
    with ``--base`` when given. An unknown name is a one-line error."""
    return [load_cli_law(name, base) for name in split_law_list(law)]
