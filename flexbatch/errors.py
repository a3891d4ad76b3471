"""Known failures and the exit codes SPEC §2 gives them.

The CLI turns every ``FlexbatchError`` into one line on stderr and its ``exit_code``;
:func:`known_failure` recognises the operating-system and engine failures a user can act
on (a full disk, a path that is a file, a permission) and gives them the same treatment.
Anything else is a bug and exits 1 with its type named.
"""

from __future__ import annotations

import errno


class FlexbatchError(Exception):
    """An expected failure: one line for the user, one exit code."""

    exit_code = 1


class ConfigError(FlexbatchError):
    """Bad arguments or invalid configuration (rate plans, grants, paths, environment)."""

    exit_code = 2


class InputSchemaError(FlexbatchError):
    """A usage file cannot be read as SPEC §3.1 says: a missing column, a wrong type, a
    duplicated name, or data pages that cannot be decoded."""

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


class EnvironmentFailure(FlexbatchError):
    """The machine, not the input, stopped the command (a full disk): exit 1, said plainly."""

    exit_code = 1


NO_SPACE_TEXT = "no space left on device"
# errno -> (what happened, exit code, fix); a path that is wrong is a bad argument (2).
_OS_ERRORS = {
    errno.ENOSPC: (NO_SPACE_TEXT, 1, "free space there (or move OUT) and run the command again"),
    errno.EDQUOT: ("disk quota exceeded", 1, "free space or raise the quota, then run again"),
    errno.EACCES: ("permission denied", 2, "give this user access to the path or pick another"),
    errno.EPERM: ("operation not permitted", 2, "give this user access to the path"),
    errno.EROFS: ("read-only file system", 2, "give a path on a writable file system"),
    errno.EEXIST: ("already exists", 2, "remove it or give another path"),
    errno.ENOTDIR: ("a file, not a folder, is in the path", 2, "give a folder path"),
    errno.EISDIR: ("is a folder, not a file", 2, "give a file path"),
    errno.ENAMETOOLONG: ("file name too long", 2, "use a shorter path"),
}


def _os_errno(exc: BaseException) -> int | None:
    """The errno of ``exc`` or of the OSError that caused it; engines that wrap the error
    (Polars, pyarrow, DuckDB) keep only its text, so that is matched too."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _OS_ERRORS:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    if "no space left on device" in text or "os error 28" in text:
        return errno.ENOSPC
    if "disk quota exceeded" in text:
        return errno.EDQUOT
    return None


def _os_path(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.filename:
            return str(seen.filename)
        seen = seen.__cause__ or seen.__context__
    return None


def known_failure(exc: BaseException, where: str | None = None) -> FlexbatchError | None:
    """``exc`` as an expected failure, or None when it is a bug. ``where`` (the command's
    OUT) names the place when the error itself carries no path."""
    code = _os_errno(exc)
    if code is None:
        return None
    what, exit_code, fix = _OS_ERRORS[code]
    path = _os_path(exc) or where or "the output folder"
    error = EnvironmentFailure if exit_code == 1 else ConfigError
    return error(f"{what}: {path}; fix: {fix}")


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines too) folded to one space."""
    return " ".join(str(text).split())
