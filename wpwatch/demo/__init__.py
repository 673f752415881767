"""A WordPress-compatible demo server and its bundled data set.

``wpwatch demo`` uses it so a newcomer without internet can watch a site
change; benchmarks use :class:`DemoServer` as a fast stand-in for WordPress.
See :mod:`wpwatch.demo.server`.

The names below are loaded on first use, so that
``python -m wpwatch.demo.server`` does not import the module twice.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DemoServer",
    "DemoSite",
    "ManualClock",
    "Post",
    "Response",
    "apply_demo_changes",
    "load_demo_site",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("wpwatch.demo.server"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
