"""The one exception type users see: a message saying what is wrong and what is valid.

The CLI turns a :class:`PrecplanError` into one line on stderr and exit code 2; library
callers can catch it (it is a ``ValueError``).

Messages speak of the function's arguments, each in backquotes: ```budget` and `target_loss`
were both given``. The command line names each by its flag instead (``--budget``,
``--target-loss``), through the one table in :mod:`precplan.cli._common`.
"""

from __future__ import annotations


class PrecplanError(ValueError):
    """Bad input, an unknown or malformed law, or a request outside the law's domain."""


class LawFileError(PrecplanError):
    """A law file that is missing, malformed or incomplete (names the file and the key)."""
