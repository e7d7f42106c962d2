"""Critical-path heads and tails and a static makespan lower bound."""

from __future__ import annotations

from coordinator.scheduling.instance import Instance


def heads(inst: Instance) -> list[int]:
    """Earliest start of each task with the shortest durations and lags, ignoring resources."""
    head = [0] * inst.n
    for j in inst.topo:
        if j in inst.fixed:
            head[j] = inst.fixed[j][1]
        else:
            head[j] = max(head[j], inst.release[j])
        finish = head[j] + inst.min_duration[j]
        for s, lags in inst.succs[j]:
            lag = min(lags[m] for m in inst.allowed[j])
            head[s] = max(head[s], finish + lag)
    return head


def tails(inst: Instance) -> list[int]:
    """Shortest time from each task's start to the end of the project (its own duration included)."""
    tail = [0] * inst.n
    for j in reversed(inst.topo):
        after = 0
        for s, lags in inst.succs[j]:
            after = max(after, min(lags[m] for m in inst.allowed[j]) + tail[s])
        tail[j] = inst.min_duration[j] + after
    return tail


def _components(inst: Instance) -> list[int]:
    """Union-find root of each renewable resource, joining resources a task chooses between."""
    parent = list(range(len(inst.capacity)))

    def find(r: int) -> int:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    for j in range(inst.n):
        used = [r for m in inst.allowed[j] for r, _ in inst.modes[j][m].renewable]
        for r in used[1:]:
            parent[find(r)] = find(used[0])
    return [find(r) for r in range(len(parent))]


def energy_bound(inst: Instance) -> int:
    """Work that must fit on a resource, or on a group of interchangeable machines, over time."""
    roots = _components(inst)
    single = [0] * len(inst.capacity)
    group: dict[int, int] = {}
    for j in range(inst.n):
        modes = [inst.modes[j][m] for m in inst.allowed[j]]
        used = {r for mode in modes for r, _ in mode.renewable}
        if not used:
            continue
        for r in used:
            single[r] += min(mode.duration * dict(mode.renewable).get(r, 0) for mode in modes)
        work = min(mode.duration * sum(a for _, a in mode.renewable) for mode in modes)
        root = roots[next(iter(used))]
        group[root] = group.get(root, 0) + work
    group_cap: dict[int, int] = {}
    for r, root in enumerate(roots):
        group_cap[root] = group_cap.get(root, 0) + inst.capacity[r]
    bounds = [-(-w // inst.capacity[r]) for r, w in enumerate(single) if inst.capacity[r]]
    bounds += [-(-w // group_cap[root]) for root, w in group.items() if group_cap[root]]
    return max(bounds, default=0)


def lower_bound(inst: Instance) -> int:
    """Largest of the critical-path and energy bounds."""
    head, tail = heads(inst), tails(inst)
    path = max((head[j] + tail[j] for j in range(inst.n)), default=0)
    return max(path, energy_bound(inst))
