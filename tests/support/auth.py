"""The header an API client sends with its token."""

from __future__ import annotations


def bearer(token: str) -> dict[str, str]:
    """`Authorization: Bearer TOKEN`, as a headers dict."""
    return {"Authorization": f"Bearer {token}"}
