"""What this program is: its name, version and how it introduces itself to sites."""

from __future__ import annotations

VERSION = "0.1.0"
PROJECT_URL = "https://github.com/wpwatch/wpwatch"
USER_AGENT = f"wpwatch/{VERSION} (+{PROJECT_URL}; WordPress change monitor)"
