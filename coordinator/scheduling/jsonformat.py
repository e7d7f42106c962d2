"""The JSON problem format of docs/scheduling.md: read, validate, write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coordinator.scheduling.model import (
    Calendar,
    FixedTask,
    Mode,
    Precedence,
    Problem,
    Resource,
    ScheduledTask,
    Task,
)
from protocol.errors import InvalidInput


class _Reader:
    """Typed access to parsed JSON with errors that name the source and the field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> InvalidInput:
        return InvalidInput(f"{self.source}: {where}: {message}")

    def obj(self, value: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be an object")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"missing key {missing[0]!r}")
        unknown = sorted(set(value) - required - optional)
        if unknown:
            raise self.fail(where, f"unknown key {unknown[0]!r}")
        return value

    def items(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "must be a list")
        return value

    def integer(self, value: Any, where: str, low: int | None = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"must be an integer, got {value!r}")
        if low is not None and value < low:
            raise self.fail(where, f"must be at least {low}, got {value}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"must be a non-empty string, got {value!r}")
        return value

    def calendar(self, value: Any, where: str) -> Calendar | None:
        if value is None:
            return None
        windows: list[tuple[int, int]] = []
        for k, pair in enumerate(self.items(value, where)):
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.fail(f"{where}[{k}]", "must be [open, close]")
            open_, close = (self.integer(v, f"{where}[{k}]", None) for v in pair)
            if open_ >= close or (windows and open_ < windows[-1][1]):
                raise self.fail(f"{where}[{k}]", "windows must be sorted, non-overlapping [open, close)")
            windows.append((open_, close))
        return tuple(windows)


def read_problem(path: str | Path) -> Problem:
    """Read a JSON problem file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: invalid JSON at column {exc.colno}: {exc.msg}") from exc
    return problem_from_dict(data, str(path), default_name=path.stem)


def problem_from_dict(data: Any, source: str = "problem", default_name: str = "") -> Problem:
    """Build a Problem from parsed JSON; `source` names it in error messages."""
    rd = _Reader(source)
    top = rd.obj(data, "top level", {"resources", "tasks"}, {"name", "precedences", "fixed", "previous"})
    resources = tuple(
        _resource(rd, r, f"resources[{k}]") for k, r in enumerate(rd.items(top["resources"], "resources"))
    )
    tasks = tuple(_task(rd, t, f"tasks[{k}]") for k, t in enumerate(rd.items(top["tasks"], "tasks")))
    arcs = tuple(
        _precedence(rd, a, f"precedences[{k}]")
        for k, a in enumerate(rd.items(top.get("precedences", []), "precedences"))
    )
    fixed = tuple(
        FixedTask(*_placement(rd, f, f"fixed[{k}]", need_start=True)[:3])
        for k, f in enumerate(rd.items(top.get("fixed", []), "fixed"))
    )
    previous = tuple(
        ScheduledTask(*_placement(rd, p, f"previous[{k}]", need_start=False))
        for k, p in enumerate(rd.items(top.get("previous", []), "previous"))
    )
    name = top.get("name", default_name)
    return Problem(resources, tasks, arcs, fixed, previous, str(name))


def _resource(rd: _Reader, value: Any, where: str) -> Resource:
    obj = rd.obj(value, where, {"id"}, {"capacity", "calendar", "renewable"})
    renewable = obj.get("renewable", True)
    if not isinstance(renewable, bool):
        raise rd.fail(f"{where}.renewable", "must be true or false")
    return Resource(
        rd.text(obj["id"], f"{where}.id"),
        rd.integer(obj.get("capacity", 1), f"{where}.capacity"),
        rd.calendar(obj.get("calendar"), f"{where}.calendar"),
        renewable,
    )


def _task(rd: _Reader, value: Any, where: str) -> Task:
    obj = rd.obj(value, where, {"id", "modes"}, {"release", "due", "weight", "calendar"})
    modes = tuple(
        _mode(rd, m, f"{where}.modes[{k}]") for k, m in enumerate(rd.items(obj["modes"], f"{where}.modes"))
    )
    if not modes:
        raise rd.fail(f"{where}.modes", "needs at least one mode")
    due = obj.get("due")
    return Task(
        rd.text(obj["id"], f"{where}.id"),
        modes,
        rd.integer(obj.get("release", 0), f"{where}.release"),
        None if due is None else rd.integer(due, f"{where}.due"),
        rd.integer(obj.get("weight", 1), f"{where}.weight"),
        rd.calendar(obj.get("calendar"), f"{where}.calendar"),
    )


def _mode(rd: _Reader, value: Any, where: str) -> Mode:
    obj = rd.obj(value, where, {"duration"}, {"demands", "name"})
    demands = obj.get("demands", {})
    if not isinstance(demands, dict):
        raise rd.fail(f"{where}.demands", "must be an object of resource id -> amount")
    amounts = {str(r): rd.integer(a, f"{where}.demands.{r}") for r, a in demands.items()}
    name = obj.get("name", "")
    return Mode(rd.integer(obj["duration"], f"{where}.duration"), amounts, str(name))


def _precedence(rd: _Reader, value: Any, where: str) -> Precedence:
    obj = rd.obj(value, where, {"before", "after"}, {"lag", "mode_lags"})
    lags = obj.get("mode_lags")
    mode_lags = (
        None
        if lags is None
        else tuple(rd.integer(v, f"{where}.mode_lags[{k}]") for k, v in enumerate(rd.items(lags, where)))
    )
    return Precedence(
        rd.text(obj["before"], f"{where}.before"),
        rd.text(obj["after"], f"{where}.after"),
        rd.integer(obj.get("lag", 0), f"{where}.lag"),
        mode_lags,
    )


def _placement(rd: _Reader, value: Any, where: str, need_start: bool) -> tuple[str, int, int, int]:
    required = {"id", "mode", "start"} if need_start else {"id", "mode"}
    obj = rd.obj(value, where, required, {"start", "end"})
    mode = rd.integer(obj["mode"], f"{where}.mode", 1) - 1
    start = rd.integer(obj.get("start", 0), f"{where}.start", None)
    end = rd.integer(obj.get("end", start), f"{where}.end", None)
    return rd.text(obj["id"], f"{where}.id"), mode, start, end


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """The JSON form of a problem (modes counted from 1)."""
    out: dict[str, Any] = {"name": problem.name, "resources": [], "tasks": []}
    for r in problem.resources:
        item: dict[str, Any] = {"id": r.id, "capacity": r.capacity}
        if r.calendar is not None:
            item["calendar"] = [list(w) for w in r.calendar]
        if not r.renewable:
            item["renewable"] = False
        out["resources"].append(item)
    for t in problem.tasks:
        task: dict[str, Any] = {"id": t.id, "modes": [_mode_dict(m) for m in t.modes]}
        if t.release:
            task["release"] = t.release
        if t.due is not None:
            task["due"], task["weight"] = t.due, t.weight
        if t.calendar is not None:
            task["calendar"] = [list(w) for w in t.calendar]
        out["tasks"].append(task)
    out["precedences"] = [_arc_dict(a) for a in problem.precedences]
    out["fixed"] = [{"id": f.id, "mode": f.mode + 1, "start": f.start} for f in problem.fixed]
    out["previous"] = [p.to_dict() for p in problem.previous]
    return out


def _mode_dict(mode: Mode) -> dict[str, Any]:
    item: dict[str, Any] = {"duration": mode.duration, "demands": dict(mode.demands)}
    if mode.name:
        item["name"] = mode.name
    return item


def _arc_dict(arc: Precedence) -> dict[str, Any]:
    item: dict[str, Any] = {"before": arc.before, "after": arc.after}
    if arc.lag:
        item["lag"] = arc.lag
    if arc.mode_lags is not None:
        item["mode_lags"] = list(arc.mode_lags)
    return item
