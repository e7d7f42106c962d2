"""Carrying out a form's action: one command for the job domain's bus, a message, and back to the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect
from flask.typing import ResponseReturnValue

from coordinator.runtime import runtime
from protocol.errors import PeerfabError


def carry_out(command: Any, done: Callable[[Any], str], target: str) -> ResponseReturnValue:
    """Hand `command` to the bus; flash what `done` says of its result, or the error, and go to `target`."""
    try:
        result = runtime().bus.handle(command)
    except PeerfabError as exc:
        flash(exc.message, "error")
        return redirect(target)
    flash(done(result), "ok")
    return redirect(target)
