"""The ``precplan`` command line: one typer app, one private module per command, each adding
itself with ``register(app)``.

Importing this package is cheap: it imports typer and the command signatures only; numpy,
scipy and rich are imported inside commands, torch and matplotlib only by ``validate`` and
``--plot``. Every bad invocation, typer's own usage errors included, ends in one line
``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.24 carries its own copy of click
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - older typer depends on click
    from click import exceptions as _click_errors

from precplan.cli._common import OutputError
from precplan.cli import _fit, _hardware, _laws, _optimize, _predict, _ptq_risk, _validate
from precplan.cli import _hparams, _propose

__all__ = ["app", "main"]


class _OneLineErrors(TyperGroup):
    """The app's click group: usage errors (unknown command or option, a missing or malformed
    value) become the same one line and exit 2 as every other bad input, not a box."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if sys.stdout is None:  # started with stdout closed (>&-): nothing could be printed
            _stderr("error: standard output is closed; nothing can be printed (run without >&- or redirect to a file)")
            return _exit(2, standalone_mode)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
            sys.stdout.flush()  # a full disk or closed pipe shows here, not in an ignored error at exit
        except _click_errors.NoArgsIsHelpError:  # a bare group: typer has shown its help
            rv = 2
        except _click_errors.ClickException as exc:
            _stderr(f"error: {_usage_line(exc)}")
            rv = 2
        except typer.Abort:
            _stderr("interrupted")
            rv = 130
        except OSError as exc:  # writing the result failed: stdout full (>/dev/full), a closed pipe
            rv = _write_failed(exc)
        except OutputError as exc:  # the same, raised inside a command (see handle_errors)
            rv = _write_failed(exc.cause)
        except RecursionError:  # pragma: no cover - inputs are bounded before parsing
            _stderr("error: the input is nested too deeply to read")
            rv = 2
        return _exit(rv, standalone_mode)


def _exit(rv: Any, standalone_mode: bool) -> Any:
    if not standalone_mode:
        return rv
    sys.exit(rv if isinstance(rv, int) else 0)


def _stderr(line: str) -> None:
    """One line on stderr (nothing to do when stderr itself is gone)."""
    try:
        if sys.stderr is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _write_failed(exc: OSError) -> int:
    """One line for a failed write to stdout (or an unforeseen file error). After a failed
    stdout, what is still buffered goes nowhere (so Python's own flush at exit cannot print a
    second, multi-line error). Exit 1 for a closed pipe (the reader went away, as ``head``
    does), 2 otherwise."""
    reason = exc.strerror or type(exc).__name__
    if exc.filename is not None:  # a file, not the output stream
        _stderr(f"error: {exc.filename}: {reason}")
        return 2
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        _stderr(f"error: cannot write the output: the reader closed the pipe ({reason})")
        return 1
    _stderr(f"error: cannot write the output ({reason})")
    return 2


def _usage_line(exc: _click_errors.ClickException) -> str:
    """A click error as one line that says what would be valid."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "precplan"
    return f"{message} (see '{where} --help')"


app = typer.Typer(
    name="precplan",
    cls=_OneLineErrors,
    help="Plan LLM pretraining under a budget: parameters, tokens and bits, from precision-aware scaling laws.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _module in (_predict, _laws, _hardware, _optimize, _ptq_risk, _fit, _validate, _hparams, _propose):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
