"""One error type for bad user input, and a helper for missing optional extras."""

from __future__ import annotations

import importlib
from types import ModuleType


class InputError(ValueError):
    """Bad input from the user: the message names the input and what was expected."""


class MissingExtraError(ImportError):
    """An optional backend is not installed: the message names the pip install that fixes it."""


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise ``MissingExtraError`` naming ``pip install reusevos-edge[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"{purpose} needs the '{module}' package: pip install 'reusevos-edge[{extra}]'"
        ) from exc
