"""The harness's exception hierarchy.

Every error a user can cause derives from :class:`BenchError`; the CLI prints its
message as one line on stderr and exits with code 2. Messages name the bad value and
what to do instead.
"""

from __future__ import annotations


class BenchError(Exception):
    """An error caused by input or environment, reported to the user in one line."""


class PoolError(BenchError):
    """A pool is missing, malformed, or cannot be built."""


class SubsetError(BenchError):
    """A subset file is malformed or does not match its pool."""


class RecipeError(BenchError):
    """A scale recipe or override is invalid."""


class EvalError(BenchError):
    """An eval suite or task file is invalid, or its data is missing."""


class EntryError(BenchError):
    """A leaderboard entry is malformed or inconsistent with its run."""


class UsageError(BenchError):
    """A command line that does not parse: an unknown command or option, a missing or
    malformed argument."""
