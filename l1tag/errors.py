"""Exceptions that the CLI turns into one clear line and an exit code (see docs/design.md)."""

from __future__ import annotations


class L1tagError(Exception):
    """Base class: ``exit_code`` is what ``l1tag`` exits with; the message is shown without a traceback."""

    exit_code = 1


class ConfigError(L1tagError):
    """A bad config file or key (exit 2)."""

    exit_code = 2


class DataError(L1tagError):
    """Bad or missing input data (exit 2)."""

    exit_code = 2


class BuildDirError(L1tagError):
    """A build folder l1tag may not write to: not its own, in use by another l1tag, or not writable (exit 2)."""

    exit_code = 2


class ConversionError(L1tagError):
    """A model the converter cannot handle (exit 2)."""

    exit_code = 2


class StageMissingError(L1tagError):
    """A stage that does not exist yet, or whose upstream output is missing (exit 1)."""

    exit_code = 1


class BudgetViolation(L1tagError):
    """The design breaks its L1T budget; all outputs are still written (exit 3)."""

    exit_code = 3


class FidelityError(L1tagError):
    """The firmware misses a C-simulation fidelity threshold of ``csim.*``; all outputs are still written (exit 4)."""

    exit_code = 4
