"""wpwatch: watch WordPress sites through their REST API, keep every version."""

__version__ = "0.1.0"
