"""Known failures and the exit codes SPEC §2 gives them.

The CLI turns every ``FlexbatchError`` into one line on stderr and its ``exit_code``;
anything else is a bug and exits 1.
"""

from __future__ import annotations


class FlexbatchError(Exception):
    """An expected failure: one line for the user, one exit code."""

    exit_code = 1


class ConfigError(FlexbatchError):
    """Bad arguments or invalid configuration (rate plans, grants, paths)."""

    exit_code = 2


class InputSchemaError(FlexbatchError):
    """A usage file lacks a required column or has one of the wrong type."""

    exit_code = 2


class MissingPartitionError(FlexbatchError):
    """The usage partition of a requested day does not exist."""

    exit_code = 3


class LockHeldError(FlexbatchError):
    """Another run holds the output lock."""

    exit_code = 4


class AuditError(FlexbatchError):
    """An audit query returned rows: nothing is published for the day."""

    exit_code = 1
