"""vlmbook: the companion package of an executable textbook on vision-language models.

The top-level names are imported lazily, so ``import vlmbook`` stays fast and does
not pull in torch or transformers until a name that needs them is used::

    import vlmbook
    folder = vlmbook.checkpoint("clip")        # where the embedded tiny CLIP lives
    world = vlmbook.ShapesWorld(split="test")  # the book's synthetic data
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_LAZY_EXPORTS = {
    "checkpoint": "vlmbook.checkpoints",
    "ShapesWorld": "vlmbook.shapesworld",
}

__all__ = ["__version__", *_LAZY_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'vlmbook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache, so the next lookup skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
