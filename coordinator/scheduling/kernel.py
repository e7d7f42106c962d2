"""Compiled serial schedule generation and genetic operators for problems without calendars.

The genetic search spends nearly all its time decoding activity lists into schedules, so the decoder and
the operators around it are compiled with numba: a pass over a PSPLIB instance takes a few microseconds,
where the same loops in Python took 40-580 µs. Everything here works on plain integer arrays; the
`Arrays` tuple built by `genetic.Decoder` carries one problem, at the positions named below:

    duration,                                per mode (modes of all tasks numbered in one row)
    release, rank,                           per task
    pred_ptr, pred_task, pred_lag,           predecessor arcs in compressed rows, lags in force
    succ_ptr, succ_task, succ_lag,           the same arcs seen from the other end
    demand_ptr, demand_res, demand_amount,   renewable demands per mode in compressed rows
    capacity,                                per resource
    due, weight                              weighted tardiness (due < 0: none)
    scale                                    one value: ranks are objective * scale + sum of ends
    mode_ptr                                 per task: its modes are mode_ptr[j] .. mode_ptr[j + 1] - 1
    flexible                                 one value: 1 when some task has more than one mode
    cost_ptr, cost_budget, cost_amount,      non-renewable costs per mode in compressed rows
    budget,                                  per non-renewable budget
    reference                                per task: a mode number; these modes fit every budget

A schedule is decoded from an activity list and a mode per task (`mode`, numbers in the row of modes).
Where every task has one mode, mode j is task j's and the search never draws a mode. Every operator
that changes modes keeps them within the budgets: random changes are repaired towards the reference
modes (`repair`), and a mode chosen while decoding or polishing must fit what the others leave.

Compiled code is cached next to this file (or in numba's user cache), so only the first run on a machine
pays for compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NO_DUE = -1
# positions in the `Arrays` tuple (see the module docstring)
DURATION = 0
RELEASE = 1
RANK = 2
PRED_PTR = 3
PRED_TASK = 4
PRED_LAG = 5
SUCC_PTR = 6
SUCC_TASK = 7
SUCC_LAG = 8
DEMAND_PTR = 9
DEMAND_RES = 10
DEMAND_AMOUNT = 11
CAPACITY = 12
DUE = 13
WEIGHT = 14
SCALE = 15
MODE_PTR = 16
FLEXIBLE = 17
COST_PTR = 18
COST_BUDGET = 19
COST_AMOUNT = 20
BUDGET = 21
REFERENCE = 22


@njit(cache=True, inline="always")
def earliest(t, d, lo, hi, dres, damt, avail):  # type: ignore[no-untyped-def]
    """Earliest start from `t` on at which the demands `lo`..`hi` (of `dres`, `damt`) find their
    resources free for `d` time units."""
    if d <= 0:
        return t
    while True:
        clash = -1
        u = t + d - 1
        while u >= t and clash < 0:
            for e in range(lo, hi):
                if avail[u, dres[e]] < damt[e]:
                    clash = u
                    break
            u -= 1
        if clash < 0:
            return t
        t = clash + 1


@njit(cache=True)
def charge(left, g, sign, a):  # type: ignore[no-untyped-def]
    """Add mode `g`'s costs, times `sign`, to `left` (per budget)."""
    cptr, cbud, camt = a[COST_PTR], a[COST_BUDGET], a[COST_AMOUNT]
    for e in range(cptr[g], cptr[g + 1]):
        left[cbud[e]] += sign * camt[e]


@njit(cache=True)
def spent(mode, a):  # type: ignore[no-untyped-def]
    """What the modes cost, per budget."""
    used = np.zeros(a[BUDGET].shape[0], dtype=np.int64)
    for j in range(mode.shape[0]):
        charge(used, mode[j], 1, a)
    return used


@njit(cache=True)
def overdrawn(used, a):  # type: ignore[no-untyped-def]
    """Index of a budget that `used` exceeds, or -1."""
    budget = a[BUDGET]
    for k in range(budget.shape[0]):
        if used[k] > budget[k]:
            return k
    return -1


@njit(cache=True)
def fits(g, other, left, a):  # type: ignore[no-untyped-def]
    """Whether a task may change from mode `g` to `other` with `left` of each budget unspent."""
    cptr, cbud, camt = a[COST_PTR], a[COST_BUDGET], a[COST_AMOUNT]
    for e in range(cptr[other], cptr[other + 1]):
        extra = camt[e]
        for f in range(cptr[g], cptr[g + 1]):
            if cbud[f] == cbud[e]:
                extra -= camt[f]
        if extra > left[cbud[e]]:
            return False
    return True


@njit(cache=True)
def cost_of(g, k, a):  # type: ignore[no-untyped-def]
    """What mode `g` costs of budget `k`."""
    cptr, cbud, camt = a[COST_PTR], a[COST_BUDGET], a[COST_AMOUNT]
    for e in range(cptr[g], cptr[g + 1]):
        if cbud[e] == k:
            return camt[e]
    return 0


@njit(cache=True)
def cheapest(j, k, a):  # type: ignore[no-untyped-def]
    """Task `j`'s mode that costs least of budget `k` (the shorter on ties)."""
    mptr, duration = a[MODE_PTR], a[DURATION]
    best = mptr[j]
    for g in range(mptr[j] + 1, mptr[j + 1]):
        cost, least = cost_of(g, k, a), cost_of(best, k, a)
        if cost < least or (cost == least and duration[g] < duration[best]):
            best = g
    return best


@njit(cache=True)
def repair(mode, a):  # type: ignore[no-untyped-def]
    """Bring modes within the budgets: while one is overdrawn, a random task that could spend less of
    it takes its mode that spends least; after as many moves as tasks, the reference modes (which fit
    every budget) replace the others, in random order, until nothing is overdrawn."""
    n = mode.shape[0]
    used = spent(mode, a)
    k = overdrawn(used, a)
    for _ in range(n):
        if k < 0:
            return
        j = np.random.randint(0, n)
        g = cheapest(j, k, a)
        if cost_of(g, k, a) < cost_of(mode[j], k, a):
            charge(used, mode[j], -1, a)
            charge(used, g, 1, a)
            mode[j] = g
            k = overdrawn(used, a)
    ref = a[REFERENCE]
    for j in np.random.permutation(n):
        if k < 0:
            return
        charge(used, mode[j], -1, a)
        charge(used, ref[j], 1, a)
        mode[j] = ref[j]
        k = overdrawn(used, a)


@njit(cache=True)
def place(order, mode, ptr, nbr, lag, release, a, avail, start, end, choose):  # type: ignore[no-untyped-def]
    """Serial schedule generation: each task in `order`, in its `mode`, as early as its arcs (`ptr`,
    `nbr`, `lag`, in compressed rows), its `release` and the capacity allow.

    With `choose`, each task instead takes the mode that ends first among those the budgets allow (ties
    keep its mode), written back to `mode`; the modes on entry must fit the budgets. `avail` holds
    capacity per time unit and resource on entry and again on return.
    """
    duration, capacity = a[DURATION], a[CAPACITY]
    dptr, dres, damt = a[DEMAND_PTR], a[DEMAND_RES], a[DEMAND_AMOUNT]
    mptr = a[MODE_PTR]
    left = a[BUDGET] - spent(mode, a) if choose else a[BUDGET]
    top = 0
    for k in range(order.shape[0]):
        j = order[k]
        ready = release[j]
        for e in range(ptr[j], ptr[j + 1]):
            if end[nbr[e]] + lag[e] > ready:
                ready = end[nbr[e]] + lag[e]
        g = mode[j]
        t = earliest(ready, duration[g], dptr[g], dptr[g + 1], dres, damt, avail)
        if choose:
            for other in range(mptr[j], mptr[j + 1]):
                if other != g and fits(mode[j], other, left, a):
                    s = earliest(ready, duration[other], dptr[other], dptr[other + 1], dres, damt, avail)
                    if s + duration[other] < t + duration[g]:
                        g, t = other, s
            charge(left, mode[j], 1, a)
            charge(left, g, -1, a)
            mode[j] = g
        d = duration[g]
        if d > 0:
            for u in range(t, t + d):
                for e in range(dptr[g], dptr[g + 1]):
                    avail[u, dres[e]] -= damt[e]
            if t + d > top:
                top = t + d
        start[j] = t
        end[j] = t + d
    for u in range(top):
        for r in range(capacity.shape[0]):
            avail[u, r] = capacity[r]


@njit(cache=True)
def score(end, due, weight, scale):  # type: ignore[no-untyped-def]
    """Rank of a schedule: its objective (makespan plus weighted tardiness) times `scale[0]`, plus the
    sum of its end times (less than `scale[0]`).

    The sum of end times orders schedules of equal objective, so that the search keeps moving on a
    plateau of equal makespans, towards schedules that leave more room to the tasks that end last.
    """
    makespan = 0
    late = 0
    total = 0
    for j in range(end.shape[0]):
        total += end[j]
        if end[j] > makespan:
            makespan = end[j]
        if due[j] != NO_DUE and end[j] > due[j]:
            late += weight[j] * (end[j] - due[j])
    return (makespan + late) * scale[0] + total


@njit(cache=True)
def forward(order, mode, a, avail, start, end, choose):  # type: ignore[no-untyped-def]
    """Left-justified schedule of a precedence-feasible list; returns its rank (see `score`)."""
    place(order, mode, a[PRED_PTR], a[PRED_TASK], a[PRED_LAG], a[RELEASE], a, avail, start, end, choose)
    return score(end, a[DUE], a[WEIGHT], a[SCALE])


@njit(cache=True)
def backward_order(start, end, mode, a, avail, rstart, rend):  # type: ignore[no-untyped-def]
    """Right-justify a schedule and return its tasks by their new starts (the list to decode next)."""
    n = start.shape[0]
    rank = a[RANK]
    latest_first = np.argsort(-(end * n + rank))
    zero = np.zeros(n, dtype=np.int64)
    place(latest_first, mode, a[SUCC_PTR], a[SUCC_TASK], a[SUCC_LAG], zero, a, avail, rstart, rend, False)
    # a late end in reverse time is an early start in forward time; ties keep the topological order
    return np.argsort(-rend * n + rank)


@njit(cache=True)
def by_start(start, rank):  # type: ignore[no-untyped-def]
    """Activity list of a schedule: by start time, ties in topological order."""
    return np.argsort(start * start.shape[0] + rank)


@njit(cache=True)
def improve(order, mode, a, avail, rounds, start, end, choose):  # type: ignore[no-untyped-def]
    """Decode `order` in `mode` (or choosing modes, see `place`), then forward-backward improve in
    those modes; `start`/`end` get the best schedule.

    Returns the rank (see `score`) and the best schedule's activity list.
    """
    n = order.shape[0]
    best = forward(order, mode, a, avail, start, end, choose)
    cand_start = np.empty(n, dtype=np.int64)
    cand_end = np.empty(n, dtype=np.int64)
    rstart = np.empty(n, dtype=np.int64)
    rend = np.empty(n, dtype=np.int64)
    for _ in range(rounds):
        again = backward_order(start, end, mode, a, avail, rstart, rend)
        value = forward(again, mode, a, avail, cand_start, cand_end, False)
        if value >= best:
            break
        best = value
        start[:] = cand_start
        end[:] = cand_end
    return best, by_start(start, a[RANK])


@njit(cache=True)
def critical(start, end, mode, a, avail, rstart, rend):  # type: ignore[no-untyped-def]
    """Tasks without slack: those a right-justified pass leaves where they are."""
    backward_order(start, end, mode, a, avail, rstart, rend)
    makespan = end.max()
    out = np.empty(start.shape[0], dtype=np.int64)
    count = 0
    for j in range(start.shape[0]):
        if makespan - rend[j] <= start[j]:
            out[count] = j
            count += 1
    return out[:count]


@njit(cache=True)
def shares(g, h, a):  # type: ignore[no-untyped-def]
    """Whether modes `g` and `h` hold a resource in common."""
    dptr, dres = a[DEMAND_PTR], a[DEMAND_RES]
    for e in range(dptr[g], dptr[g + 1]):
        for f in range(dptr[h], dptr[h + 1]):
            if dres[e] == dres[f]:
                return True
    return False


@njit(cache=True)
def remode(j, mode, a):  # type: ignore[no-untyped-def]
    """Give task `j` a random other of its modes; False when it has no other."""
    mptr = a[MODE_PTR]
    count = mptr[j + 1] - mptr[j]
    if count < 2:
        return False
    other = mptr[j] + np.random.randint(0, count - 1)
    mode[j] = other + 1 if other >= mode[j] else other
    return True


@njit(cache=True)
def jump(order, j, start, end, mode, a, trial):  # type: ignore[no-untyped-def]
    """Into `trial`, `order` with `j` moved just before a task that ends as `j` starts on a resource
    they share (swapping a critical pair); False when there is none or a predecessor is in the way."""
    n = order.shape[0]
    pos_j = -1
    for k in range(n):
        if order[k] == j:
            pos_j = k
    pos_i = -1
    for k in range(pos_j):
        i = order[k]
        if end[i] == start[j] and end[i] > start[i] and shares(mode[i], mode[j], a):
            pos_i = k
    if pos_i < 0:
        return False
    pred_ptr, pred_task = a[PRED_PTR], a[PRED_TASK]
    for k in range(pos_i, pos_j):
        for e in range(pred_ptr[j], pred_ptr[j + 1]):
            if pred_task[e] == order[k]:
                return False
    trial[:pos_i] = order[:pos_i]
    trial[pos_i] = j
    trial[pos_i + 1 : pos_j + 1] = order[pos_i:pos_j]
    trial[pos_j + 1 :] = order[pos_j + 1 :]
    return True


@njit(cache=True)
def polish(order, mode, value, a, avail, trials, start, end):  # type: ignore[no-untyped-def]
    """Local search on the critical tasks while it makes the schedule better.

    `order`, `mode`, `value`, `start` and `end` describe a decoded schedule on entry (`order` by start).
    Each trial takes a random critical task and either gives it another of its modes (one the budgets
    allow) or moves it before the task it waits for on a shared resource (see `jump`), decodes the list
    again, and keeps the change when the rank (see `score`) falls. Returns the rank and the list of the
    schedule held in `start`/`end` and `mode` on return.
    """
    n = order.shape[0]
    rank = a[RANK]
    cand_start = np.empty(n, dtype=np.int64)
    cand_end = np.empty(n, dtype=np.int64)
    rstart = np.empty(n, dtype=np.int64)
    rend = np.empty(n, dtype=np.int64)
    trial = np.empty(n, dtype=np.int64)
    tasks = critical(start, end, mode, a, avail, rstart, rend)
    for _ in range(trials):
        if tasks.shape[0] == 0:
            break
        j = tasks[np.random.randint(0, tasks.shape[0])]
        old = mode[j]
        if np.random.random() < 0.5 and remode(j, mode, a):
            if a[BUDGET].shape[0] > 0 and overdrawn(spent(mode, a), a) >= 0:
                mode[j] = old
                continue
            trial[:] = order
        elif not jump(order, j, start, end, mode, a, trial):
            continue
        found = forward(trial, mode, a, avail, cand_start, cand_end, False)
        if found < value:
            value = found
            start[:] = cand_start
            end[:] = cand_end
            order = by_start(start, rank)
            tasks = critical(start, end, mode, a, avail, rstart, rend)
        else:
            mode[j] = old
    return value, order


@njit(cache=True)
def fingerprint(order, mode, flexible):  # type: ignore[no-untyped-def]
    """A hash of an activity list (and of its modes when tasks have a choice), to keep copies out of
    the population."""
    h = np.uint64(1469598103934665603)
    for k in range(order.shape[0]):
        h = (h ^ np.uint64(order[k] + 1)) * np.uint64(1099511628211)
    if flexible:
        for j in range(mode.shape[0]):
            h = (h ^ np.uint64(mode[j] + 1)) * np.uint64(1099511628211)
    return h


@njit(cache=True)
def feasible_order(keys, pred_ptr, pred_task, succ_ptr, succ_task):  # type: ignore[no-untyped-def]
    """Tasks by key (lowest first), each as soon as all its predecessors are listed."""
    n = keys.shape[0]
    waiting = np.empty(n, dtype=np.int64)
    for j in range(n):
        waiting[j] = pred_ptr[j + 1] - pred_ptr[j]
    # repeated arcs count once per arc on both sides, so the counts still reach zero
    ready = np.zeros(n, dtype=np.bool_)
    for j in range(n):
        ready[j] = waiting[j] == 0
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        pick = -1
        for j in range(n):
            if ready[j] and (pick < 0 or keys[j] < keys[pick]):
                pick = j
        out[k] = pick
        ready[pick] = False
        for e in range(succ_ptr[pick], succ_ptr[pick + 1]):
            s = succ_task[e]
            waiting[s] -= 1
            if waiting[s] == 0:
                ready[s] = True
    return out


@njit(cache=True)
def seed_random(value):  # type: ignore[no-untyped-def]
    """Seed the compiled code's random generator."""
    np.random.seed(value)


@njit(cache=True)
def noisy_order(base, spread, a):  # type: ignore[no-untyped-def]
    """A feasible list from priority `base` with uniform noise of up to `spread`."""
    n = base.shape[0]
    keys = np.empty(n, dtype=np.float64)
    for j in range(n):
        keys[j] = base[j] + np.random.random() * spread
    return feasible_order(keys, a[PRED_PTR], a[PRED_TASK], a[SUCC_PTR], a[SUCC_TASK])


@njit(cache=True)
def crossover(mother, father, q1, q2, child, taken):  # type: ignore[no-untyped-def]
    """Mother's head, father's order for the middle, mother's order for the rest; stays feasible."""
    n = mother.shape[0]
    taken[:] = False
    k = 0
    for i in range(q1):
        child[k] = mother[i]
        taken[mother[i]] = True
        k += 1
    for i in range(n):
        if k >= q2:
            break
        j = father[i]
        if not taken[j]:
            child[k] = j
            taken[j] = True
            k += 1
    for i in range(n):
        j = mother[i]
        if not taken[j]:
            child[k] = j
            taken[j] = True
            k += 1


@njit(cache=True)
def directly_before(p, j, pred_ptr, pred_task):  # type: ignore[no-untyped-def]
    """Whether `p` is a direct predecessor of `j` (a plain loop: numba compiles no generators)."""
    for e in range(pred_ptr[j], pred_ptr[j + 1]):  # noqa: SIM110
        if pred_task[e] == p:
            return True
    return False


@njit(cache=True)
def mutate(order, rate, pred_ptr, pred_task):  # type: ignore[no-untyped-def]
    """Swap neighbours with probability `rate` when no arc orders them."""
    for i in range(order.shape[0] - 1):
        if np.random.random() < rate and not directly_before(order[i], order[i + 1], pred_ptr, pred_task):
            order[i], order[i + 1] = order[i + 1], order[i]


@njit(cache=True)
def mutate_modes(mode, rate, mode_ptr):  # type: ignore[no-untyped-def]
    """Give each task with a choice another of its modes, at random, with probability `rate`."""
    for j in range(mode.shape[0]):
        count = mode_ptr[j + 1] - mode_ptr[j]
        if count > 1 and np.random.random() < rate:
            other = mode_ptr[j] + np.random.randint(0, count - 1)
            mode[j] = other + 1 if other >= mode[j] else other


@njit(cache=True)
def tournament(size):  # type: ignore[no-untyped-def]
    """Index of the better of two random members of a population sorted best first."""
    first = np.random.randint(0, size)
    second = np.random.randint(0, size)
    return min(first, second)


@njit(cache=True)
def generation(pop, modes, value, stamp, a, avail, rate, rounds, mode_rate, greedy, polished, trials):  # type: ignore[no-untyped-def]
    """Breed one child per member; keep the best distinct lists of parents and children.

    `pop` (lists by row), `modes` (a mode per task by row), `value` (ranks, see `score`) and `stamp`
    (fingerprints) are sorted best first and are updated in place. Where tasks have a choice of modes,
    a child takes the modes of the parent its tasks' positions came from, `mode_rate` of them change at
    random (then `repair` brings them within the budgets), a share `greedy` of the children choose each
    task's mode as they are decoded (`place`) and a share `polished` have their critical tasks moved to
    other modes in up to `trials` tries (`polish`).
    """
    size, n = pop.shape
    flexible = a[FLEXIBLE][0] == 1
    kids = np.empty((size, n), dtype=np.int64)
    kid_modes = np.empty((size, n), dtype=np.int64)
    kid_value = np.empty(size, dtype=np.int64)
    kid_stamp = np.empty(size, dtype=np.uint64)
    child = np.empty(n, dtype=np.int64)
    child_mode = np.empty(n, dtype=np.int64)
    taken = np.empty(n, dtype=np.bool_)
    start = np.empty(n, dtype=np.int64)
    end = np.empty(n, dtype=np.int64)
    for c in range(size):
        if c % 2 == 0:
            mother, father = tournament(size), tournament(size)
            q1 = np.random.randint(0, n)
            q2 = np.random.randint(q1, n + 1)
        else:
            mother, father = father, mother
        crossover(pop[mother], pop[father], q1, q2, child, taken)
        mutate(child, rate, a[PRED_PTR], a[PRED_TASK])
        child_mode[:] = modes[mother]
        choose = False
        if flexible:
            for k in range(q1, q2):
                child_mode[child[k]] = modes[father][child[k]]
            mutate_modes(child_mode, mode_rate, a[MODE_PTR])
            repair(child_mode, a)
            choose = np.random.random() < greedy
        found, order = improve(child, child_mode, a, avail, rounds, start, end, choose)
        if flexible and np.random.random() < polished:
            found, order = polish(order, child_mode, found, a, avail, trials, start, end)
        kid_value[c] = found
        kids[c] = order
        kid_modes[c] = child_mode
        kid_stamp[c] = fingerprint(kids[c], child_mode, flexible)
    survive(pop, modes, value, stamp, kids, kid_modes, kid_value, kid_stamp)


@njit(cache=True)
def survive(pop, modes, value, stamp, kids, kid_modes, kid_value, kid_stamp):  # type: ignore[no-untyped-def]
    """Merge parents and children into `pop`: best ranks first, no list twice, parents win ties."""
    size = pop.shape[0]
    all_pop = np.concatenate((pop, kids))
    all_modes = np.concatenate((modes, kid_modes))
    all_value = np.concatenate((value, kid_value))
    all_stamp = np.concatenate((stamp, kid_stamp))
    ranking = np.argsort(all_value, kind="mergesort")
    kept = 0
    chosen = np.empty(size, dtype=np.int64)
    for i in ranking:
        if kept == size:
            break
        fresh = True
        for k in range(kept):
            if all_stamp[chosen[k]] == all_stamp[i]:
                fresh = False
                break
        if fresh:
            chosen[kept] = i
            kept += 1
    # fewer distinct lists than places: the best ones fill the rest again
    for k in range(kept, size):
        chosen[k] = chosen[k - kept]
    for k in range(size):
        pop[k] = all_pop[chosen[k]]
        modes[k] = all_modes[chosen[k]]
        value[k] = all_value[chosen[k]]
        stamp[k] = all_stamp[chosen[k]]
