"""The one exception type users see: a message saying what is wrong and what is valid.

The CLI turns a :class:`PrecplanError` into one line on stderr and exit code 2; library
callers can catch it (it is a ``ValueError``).
"""

from __future__ import annotations


class PrecplanError(ValueError):
    """Bad input, an unknown or malformed law, or a request outside the law's domain."""


class LawFileError(PrecplanError):
    """A law file that is missing, malformed or incomplete (names the file and the key)."""
