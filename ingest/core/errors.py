"""Errors the user can act on, shared by every stage: each message says what to do."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says what to do."""


class ModelNotAvailable(RuntimeError):
    """The configured model is not on this machine; the message says what to do."""
