"""LSP registrations of the docstring, review and test-data features (filled in as they land)."""

from __future__ import annotations

REGISTRARS: list = []
