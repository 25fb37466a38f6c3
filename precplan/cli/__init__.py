"""The ``precplan`` command line: one typer app, one module per command.

Importing this module is cheap: it imports typer and the command signatures only; numpy,
scipy and rich are imported inside commands, torch and matplotlib only by ``validate`` and
``--plot``.
"""

from __future__ import annotations

import typer

from precplan.cli import fit, laws, optimize, predict, ptq_risk, validate

app = typer.Typer(
    name="precplan",
    help="Plan LLM pretraining under a budget: parameters, tokens and bits, from precision-aware scaling laws.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("predict")(predict.predict)
app.add_typer(laws.app, name="laws")
for _module in (optimize, ptq_risk, fit, validate):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
