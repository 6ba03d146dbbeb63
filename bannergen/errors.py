"""The one error tree. Every user-facing failure is a BannergenError with a one-line message.

The CLI catches BannergenError in one place and maps it to an exit code:
  InputError         -> 2  (the user's files, flags or rules are wrong)
  EnvironmentFailure -> 3  (the machine is wrong: missing font, unwritable folder, ...)
Foreign errors (Pillow, Jinja2, pandas) are mapped at the edge with ``raise ... from``.
"""

from __future__ import annotations


class BannergenError(Exception):
    """Base class. ``str(err)`` is the complete one-line message shown to the user."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} (hint: {hint})")


class InputError(BannergenError):
    """The user's input (files, flags, config, templates, rules) was rejected."""

    exit_code = 2


class ConfigError(InputError):
    """bannergen.toml or a file under scoring/ is wrong."""


class DataError(InputError):
    """A catalog or events file cannot be used as a whole (missing, wrong columns, empty)."""


class RejectRateError(DataError):
    """Too many bad rows: the run fails closed and leaves the previous output untouched."""


class TemplateError(InputError):
    """A template folder is malformed, or a template escapes its sandbox."""


class UnknownUserError(InputError):
    """A user id that has no events and is not in the profile."""


class EnvironmentFailure(BannergenError):
    """The environment is broken: a font does not load, a folder is not writable."""

    exit_code = 3
