"""The one place library argument names become command-line flags.

Library messages (errors, notes, warnings) name the function's arguments in backquotes
(`budget`, `target_loss`); the command line shows each as its flag: ``--`` and the name with
dashes, except where these tables say otherwise (every command, then one command's own names,
e.g. fit_law's ``budget`` is ``fit --at-budget``). The error handler
(:func:`precplan.cli._common.handle_errors`) and the renderers (:mod:`precplan.cli._render`)
both use :func:`cli_message`."""

from __future__ import annotations

import re

__all__ = ["COMMAND_FLAGS", "FLAGS", "cli_message", "flag"]

FLAGS = {
    "budgets": "--budget",
    "bits_range": "--precisions",
    "laws": "--law",
    "json_out": "--json",
}
COMMAND_FLAGS = {
    "fit": {"budget": "--at-budget", "base_law": "--law", "law_id": "--id"},
}
_ARGUMENT = re.compile(r"`([a-z][a-z0-9_]*)`")


def flag(name: str, command: str | None = None) -> str:
    """The command-line flag of a library argument (``target_loss`` -> ``--target-loss``)."""
    own = COMMAND_FLAGS.get(command or "", {})
    return own.get(name) or FLAGS.get(name, "--" + name.replace("_", "-"))


def cli_message(message: str, command: str | None = None) -> str:
    """A library message as the command line says it: each `argument` named by its flag."""
    return _ARGUMENT.sub(lambda m: flag(m.group(1), command), message)
