"""wpwatch: watch WordPress sites through their REST API, keep every version."""

from core.about import VERSION as __version__

__all__ = ["__version__"]
