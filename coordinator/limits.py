"""Refusals for input over a configured limit: one error that names the limit and the value found."""

from __future__ import annotations

from protocol.errors import PayloadTooLarge


def too_large(message: str, limit: str, allowed: float, found: float) -> PayloadTooLarge:
    """A 413 error whose details name the setting, what it allows and what the input had."""
    return PayloadTooLarge(message, details={"limit": limit, "allowed": allowed, "found": found})
