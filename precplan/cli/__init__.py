"""The ``precplan`` command line: one typer app, one private module per command, each adding
itself with ``register(app)``.

Importing this package is cheap: it imports typer and the command signatures only; numpy,
scipy and rich are imported inside commands, torch and matplotlib only by ``validate`` and
``--plot``. Every bad invocation, typer's own usage errors included, ends in one line
``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.24 carries its own copy of click
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - older typer depends on click
    from click import exceptions as _click_errors

from precplan.cli import _fit, _hardware, _laws, _optimize, _predict, _ptq_risk, _validate

__all__ = ["app", "main"]


class _OneLineErrors(TyperGroup):
    """The app's click group: usage errors (unknown command or option, a missing or malformed
    value) become the same one line and exit 2 as every other bad input, not a box."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except _click_errors.NoArgsIsHelpError:  # a bare group: typer has shown its help
            rv = 2
        except _click_errors.ClickException as exc:
            sys.stderr.write(f"error: {_usage_line(exc)}\n")
            rv = 2
        except typer.Abort:
            sys.stderr.write("interrupted\n")
            rv = 130
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


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
for _module in (_predict, _laws, _hardware, _optimize, _ptq_risk, _fit, _validate):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
