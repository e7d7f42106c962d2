"""Compiled tabu search over critical blocks for shops of unit machines (see `tabu.py`).

A schedule is a disjunctive graph: each task runs in one mode on one machine of capacity 1, and each
machine runs its tasks in a sequence, kept as doubly linked lists (`mprev`, `mnext`, `mfirst`). The
schedule itself is the longest-path one: every task starts as soon as its arcs (lags included), its
release and the task before it on its machine allow. Every move relocates one task: to another place
in its machine's sequence (the N5/N7 moves of the job-shop literature: a critical task to the front or
back of its block, or the first or last task of a block into it) or to another of its machines, at the
place where a head-and-tail estimate says the schedule would end earliest. Each candidate is evaluated
exactly (one topological pass); moves that would close a cycle are dropped.

The `Shop` tuple built by `tabu.TabuSearch` holds the problem at the positions named below; modes are
numbered in one row over all tasks, as in `kernel.py`:

    duration, machine                        per mode
    mode_ptr                                 per task: its modes are mode_ptr[j] .. mode_ptr[j + 1] - 1
    release, job_degree                      per task (job_degree: the number of arcs into it)
    pred_ptr, pred_task, pred_lag            precedence arcs in compressed rows
    succ_ptr, succ_task, succ_lag            the same arcs seen from the other end

and a `State` tuple holds one schedule: mode (per task), mprev, mnext (per task, -1 for none) and
mfirst (per machine, -1 when it runs nothing).

The tabu list forbids, for a few iterations, the order of two tasks that a move reversed (so the move
is not undone at once) and a task's return to a machine it left; a tabu move is taken only when it
beats the best schedule found.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# positions in the `Shop` tuple
DURATION = 0
MACHINE = 1
MODE_PTR = 2
RELEASE = 3
JOB_DEGREE = 4
PRED_PTR = 5
PRED_TASK = 6
PRED_LAG = 7
SUCC_PTR = 8
SUCC_TASK = 9
SUCC_LAG = 10
# positions in the `State` tuple
MODE = 0
MPREV = 1
MNEXT = 2
MFIRST = 3
# the column of a candidate move that holds its estimated makespan
ESTIMATE = 3
# candidate moves evaluated exactly each iteration, those with the lowest estimates: more cost more time
# than they save (on mk06, mk10 and la01 in 2.5 s, 1 gave as good or better schedules than 3, 6 or 12)
EXACT = 1
# positions in the `counters` array kept between calls of `search`
ITERATION = 0
LAST_GAIN = 1
BEST = 2
# tabu entries live in a small hash table: a clash only forgets an older entry
TABLE_BITS = 16


@njit(cache=True, nogil=True)
def evaluate(shop, state, head, order, degree):  # type: ignore[no-untyped-def]
    """Earliest starts of every task into `head`, tasks in a topological order into `order`; returns
    the makespan, or -1 when the machine sequences close a cycle."""
    n = head.shape[0]
    duration, release, job_degree = shop[DURATION], shop[RELEASE], shop[JOB_DEGREE]
    succ_ptr, succ_task, succ_lag = shop[SUCC_PTR], shop[SUCC_TASK], shop[SUCC_LAG]
    mode, mprev, mnext = state[MODE], state[MPREV], state[MNEXT]
    queued = 0
    for j in range(n):
        degree[j] = job_degree[j] + (1 if mprev[j] >= 0 else 0)
        head[j] = release[j]
        if degree[j] == 0:
            order[queued] = j
            queued += 1
    span = 0
    k = 0
    while k < queued:
        j = order[k]
        k += 1
        end = head[j] + duration[mode[j]]
        if end > span:
            span = end
        for e in range(succ_ptr[j], succ_ptr[j + 1]):
            s = succ_task[e]
            if end + succ_lag[e] > head[s]:
                head[s] = end + succ_lag[e]
            degree[s] -= 1
            if degree[s] == 0:
                order[queued] = s
                queued += 1
        s = mnext[j]
        if s >= 0:
            if end > head[s]:
                head[s] = end
            degree[s] -= 1
            if degree[s] == 0:
                order[queued] = s
                queued += 1
    return span if queued == n else -1


@njit(cache=True, nogil=True)
def tails(shop, state, order, tail):  # type: ignore[no-untyped-def]
    """Into `tail`, the longest path from each task's start to the end of the schedule."""
    duration, succ_ptr, succ_task, succ_lag = shop[DURATION], shop[SUCC_PTR], shop[SUCC_TASK], shop[SUCC_LAG]
    mode, mnext = state[MODE], state[MNEXT]
    for k in range(order.shape[0] - 1, -1, -1):
        j = order[k]
        rest = 0
        for e in range(succ_ptr[j], succ_ptr[j + 1]):
            if succ_lag[e] + tail[succ_task[e]] > rest:
                rest = succ_lag[e] + tail[succ_task[e]]
        if mnext[j] >= 0 and tail[mnext[j]] > rest:
            rest = tail[mnext[j]]
        tail[j] = duration[mode[j]] + rest


@njit(cache=True, nogil=True)
def relocate(shop, state, j, g, after):  # type: ignore[no-untyped-def]
    """Move task `j` into mode `g`, right after task `after` on that mode's machine (first when -1)."""
    machine = shop[MACHINE]
    mode, mprev, mnext, mfirst = state[MODE], state[MPREV], state[MNEXT], state[MFIRST]
    p, q = mprev[j], mnext[j]
    if p >= 0:
        mnext[p] = q
    else:
        mfirst[machine[mode[j]]] = q
    if q >= 0:
        mprev[q] = p
    mode[j] = g
    if after >= 0:
        q = mnext[after]
        mnext[after] = j
    else:
        r = machine[g]
        q = mfirst[r]
        mfirst[r] = j
    mprev[j] = after
    mnext[j] = q
    if q >= 0:
        mprev[q] = j


@njit(cache=True, nogil=True)
def critical_path(shop, state, head, path, by_machine):  # type: ignore[no-untyped-def]
    """A longest path, first task first, into `path`; `by_machine[k]` is 1 when `path[k + 1]` follows
    `path[k]` on their machine. Ties between paths are broken at random. Returns its length."""
    n = head.shape[0]
    duration = shop[DURATION]
    pred_ptr, pred_task, pred_lag = shop[PRED_PTR], shop[PRED_TASK], shop[PRED_LAG]
    mode, mprev = state[MODE], state[MPREV]
    span = 0
    for j in range(n):
        span = max(span, head[j] + duration[mode[j]])
    j, ties = -1, 0
    for i in range(n):
        if head[i] + duration[mode[i]] == span:
            ties += 1
            if np.random.randint(0, ties) == 0:
                j = i
    length = 0
    links = np.empty(n, dtype=np.int64)
    while j >= 0:
        path[length] = j
        length += 1
        p = mprev[j]
        on_machine = p >= 0 and head[p] + duration[mode[p]] == head[j]
        job, ties = -1, 0
        for e in range(pred_ptr[j], pred_ptr[j + 1]):
            i = pred_task[e]
            if head[i] + duration[mode[i]] + pred_lag[e] == head[j]:
                ties += 1
                if np.random.randint(0, ties) == 0:
                    job = i
        if on_machine and (job < 0 or np.random.random() < 0.5):
            links[length - 1] = 1
            j = p
        else:
            links[length - 1] = 0
            j = job
    # reverse into forward order: by_machine[k] links path[k] and path[k + 1]
    for k in range(length // 2):
        path[k], path[length - 1 - k] = path[length - 1 - k], path[k]
    for k in range(length - 1):
        by_machine[k] = links[length - 2 - k]
    return length


@njit(cache=True, nogil=True)
def block_moves(state, path, by_machine, length, cand, count):  # type: ignore[no-untyped-def]
    """Add the moves within each critical block (rows of `cand`: task, mode, task to follow); returns
    the new count."""
    mode, mprev = state[MODE], state[MPREV]
    k = 0
    while k < length - 1:
        if by_machine[k] == 0:
            k += 1
            continue
        first = k
        while k < length - 1 and by_machine[k] == 1:
            k += 1
        last = k  # path[first] .. path[last] run back to back on one machine
        b0, bm = path[first], path[last]
        count = _add(cand, count, b0, mode[b0], path[first + 1])
        if last - first >= 2:
            count = _add(cand, count, bm, mode[bm], mprev[path[last - 1]])
        for i in range(first + 1, last):
            b = path[i]
            count = _add(cand, count, b, mode[b], mprev[b0])
            count = _add(cand, count, b, mode[b], bm)
            if i > first + 1:
                count = _add(cand, count, b0, mode[b0], b)
            if i < last - 1:
                count = _add(cand, count, bm, mode[bm], mprev[b])
    return count


@njit(cache=True, nogil=True)
def _add(cand, count, j, g, after, estimate=-1):  # type: ignore[no-untyped-def]
    """Append a move (task, mode, task to follow, estimated makespan or -1 when not yet known)."""
    if count < cand.shape[0]:
        cand[count, 0] = j
        cand[count, 1] = g
        cand[count, 2] = after
        cand[count, ESTIMATE] = estimate
        count += 1
    return count


@njit(cache=True, nogil=True)
def machine_moves(shop, state, head, tail, path, length, cand, count):  # type: ignore[no-untyped-def]
    """Add, for each critical task with other machines, a move to each of them at the place where the
    schedule through the task would end earliest (heads before it, tails after it); returns the count."""
    duration, machine, mode_ptr, release = shop[DURATION], shop[MACHINE], shop[MODE_PTR], shop[RELEASE]
    pred_ptr, pred_task, pred_lag = shop[PRED_PTR], shop[PRED_TASK], shop[PRED_LAG]
    succ_ptr, succ_task, succ_lag = shop[SUCC_PTR], shop[SUCC_TASK], shop[SUCC_LAG]
    mode, mnext, mfirst = state[MODE], state[MNEXT], state[MFIRST]
    for k in range(length):
        j = path[k]
        if mode_ptr[j + 1] - mode_ptr[j] < 2:
            continue
        ready = release[j]
        for e in range(pred_ptr[j], pred_ptr[j + 1]):
            i = pred_task[e]
            ready = max(ready, head[i] + duration[mode[i]] + pred_lag[e])
        rest = 0
        for e in range(succ_ptr[j], succ_ptr[j + 1]):
            rest = max(rest, succ_lag[e] + tail[succ_task[e]])
        for g in range(mode_ptr[j], mode_ptr[j + 1]):
            r = machine[g]
            if r == machine[mode[j]]:
                continue
            best, where, ties = -1, -1, 0
            a, b = -1, mfirst[r]
            while True:
                begin = ready if a < 0 else max(ready, head[a] + duration[mode[a]])
                estimate = begin + duration[g] + (rest if b < 0 else max(rest, tail[b]))
                take, ties = _lower(estimate, best, ties)
                if take:
                    best, where = estimate, a
                if b < 0:
                    break
                a, b = b, mnext[b]
            count = _add(cand, count, j, g, where, best)
    return count


@njit(cache=True, nogil=True)
def _lower(value, best, ties):  # type: ignore[no-untyped-def]
    """Whether `value` replaces `best` (-1: none yet) as the lowest seen, ties taken at random so
    that each of them is kept with the same chance; returns that and the new number of ties."""
    if best < 0 or value < best:
        return True, 1
    if value == best:
        ties += 1
        return np.random.randint(0, ties) == 0, ties
    return False, ties


@njit(cache=True, nogil=True)
def _slot(key):  # type: ignore[no-untyped-def]
    return (key * 2654435761) & ((1 << TABLE_BITS) - 1)


@njit(cache=True, nogil=True)
def _tabu(keys, until, key, iteration):  # type: ignore[no-untyped-def]
    h = _slot(key)
    return keys[h] == key and until[h] > iteration


@njit(cache=True, nogil=True)
def _forbid(keys, until, key, expiry):  # type: ignore[no-untyped-def]
    h = _slot(key)
    keys[h] = key
    until[h] = expiry


@njit(cache=True, nogil=True)
def _jumped(state, j, after, jumped):  # type: ignore[no-untyped-def]
    """The tasks `j` passes over when it moves right after `after` on its own machine, into `jumped`;
    returns their count, negative when `j` moves to the left."""
    mprev, mnext = state[MPREV], state[MNEXT]
    count = 0
    i = mnext[j]
    while i >= 0:
        jumped[count] = i
        count += 1
        if i == after:
            return count
        i = mnext[i]
    # `after` is before `j` (or j goes first): the tasks from the one after `after` up to j's predecessor
    count = 0
    i = mprev[j]
    while i >= 0 and i != after:
        jumped[count] = i
        count += 1
        i = mprev[i]
    return -count


@njit(cache=True, nogil=True)
def is_tabu(shop, state, move, keys, until, iteration, jumped):  # type: ignore[no-untyped-def]
    """Whether a move restores a task order or a machine that the tabu list forbids."""
    n = state[MODE].shape[0]
    machine = shop[MACHINE]
    j, g, after = move[0], move[1], move[2]
    if machine[g] != machine[state[MODE][j]]:
        return _tabu(keys, until, n * n + j * state[MFIRST].shape[0] + machine[g], iteration)
    count = _jumped(state, j, after, jumped)
    for k in range(abs(count)):
        i = jumped[k]
        # moving right puts i before j; moving left puts j before i
        key = i * n + j if count > 0 else j * n + i
        if _tabu(keys, until, key, iteration):
            return True
    return False


@njit(cache=True, nogil=True)
def forbid_undo(shop, state, move, keys, until, expiry, jumped):  # type: ignore[no-untyped-def]
    """Before a move is made: forbid the orders it reverses, or the machine it leaves, until `expiry`."""
    n = state[MODE].shape[0]
    machine = shop[MACHINE]
    j, g, after = move[0], move[1], move[2]
    old = machine[state[MODE][j]]
    if machine[g] != old:
        _forbid(keys, until, n * n + j * state[MFIRST].shape[0] + old, expiry)
        return
    count = _jumped(state, j, after, jumped)
    for k in range(abs(count)):
        i = jumped[k]
        key = j * n + i if count > 0 else i * n + j
        _forbid(keys, until, key, expiry)


@njit(cache=True, nogil=True)
def copy_state(source, target):  # type: ignore[no-untyped-def]
    """Copy one schedule's arrays into another's."""
    for k in range(len(source)):
        target[k][:] = source[k]


@njit(cache=True, nogil=True)
def search(shop, state, best, counters, keys, until, steps, tenure, patience):  # type: ignore[no-untyped-def]
    """Run `steps` tabu iterations from `state`; keep the best schedule in `best` (its makespan in
    `counters[BEST]`). `tenure` holds the shortest and longest tabu tenure; after `patience`
    iterations without a better schedule the search starts again from the best one, shaken by a few
    random moves. Returns the best makespan."""
    n = state[MODE].shape[0]
    head = np.empty(n, dtype=np.int64)
    tail = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    degree = np.empty(n, dtype=np.int64)
    trial_head = np.empty(n, dtype=np.int64)
    trial_order = np.empty(n, dtype=np.int64)
    path = np.empty(n, dtype=np.int64)
    by_machine = np.zeros(n, dtype=np.int64)
    jumped = np.empty(n, dtype=np.int64)
    # at most four block moves per critical task and one move per other mode of each
    cand = np.empty((4 * n + shop[MODE_PTR][n], 4), dtype=np.int64)
    for _ in range(steps):
        iteration = counters[ITERATION]
        counters[ITERATION] += 1
        if iteration - counters[LAST_GAIN] > patience:
            copy_state(best, state)
            shake(shop, state, head, tail, order, degree, path, by_machine, cand)
            counters[LAST_GAIN] = iteration
        evaluate(shop, state, head, order, degree)
        tails(shop, state, order, tail)
        length = critical_path(shop, state, head, path, by_machine)
        count = block_moves(state, path, by_machine, length, cand, 0)
        count = machine_moves(shop, state, head, tail, path, length, cand, count)
        scratch = (head, tail, degree, trial_head, trial_order)
        record = counters[BEST]
        chosen, value = _choose(shop, state, cand, count, keys, until, iteration, record, scratch, jumped)
        if chosen < 0:
            continue
        expiry = iteration + np.random.randint(tenure[0], tenure[1] + 1)
        forbid_undo(shop, state, cand[chosen], keys, until, expiry, jumped)
        relocate(shop, state, cand[chosen, 0], cand[chosen, 1], cand[chosen, 2])
        if value < counters[BEST]:
            counters[BEST] = value
            counters[LAST_GAIN] = iteration
            copy_state(state, best)
    return counters[BEST]


@njit(cache=True, nogil=True)
def _choose(shop, state, cand, count, keys, until, iteration, record, scratch, jumped):  # type: ignore[no-untyped-def]
    """The move to make: of the EXACT moves with the lowest estimates that are not tabu (or whose
    estimate beats `record`), the one with the shortest exact makespan, ties at random; when every move
    is tabu, the one with the lowest estimate. Returns its row (-1 for none) and its makespan."""
    head, tail, degree = scratch[0], scratch[1], scratch[2]
    mode, mprev = state[MODE], state[MPREV]
    rank = np.empty(count, dtype=np.int64)
    for c in range(count):
        if cand[c, ESTIMATE] < 0:
            cand[c, ESTIMATE] = estimate_within(shop, state, head, tail, cand[c, 0], cand[c, 2], jumped)
        # lowest estimates first, ties in random order
        rank[c] = cand[c, ESTIMATE] * 1024 + np.random.randint(0, 1024)
    best, chosen, ties, tried = -1, -1, 0, 0
    fallback = -1
    trial_head, trial_order = scratch[3], scratch[4]
    for c in np.argsort(rank):
        if tried == EXACT:
            break
        if is_tabu(shop, state, cand[c], keys, until, iteration, jumped) and cand[c, ESTIMATE] >= record:
            if fallback < 0:
                fallback = c
            continue
        j = cand[c, 0]
        old_mode, old_after = mode[j], mprev[j]
        relocate(shop, state, j, cand[c, 1], cand[c, 2])
        value = evaluate(shop, state, trial_head, trial_order, degree)
        relocate(shop, state, j, old_mode, old_after)
        if value < 0:
            continue
        tried += 1
        take, ties = _lower(value, best, ties)
        if take:
            best, chosen = value, c
    if chosen < 0 and fallback >= 0:
        j = cand[fallback, 0]
        old_mode, old_after = mode[j], mprev[j]
        relocate(shop, state, j, cand[fallback, 1], cand[fallback, 2])
        value = evaluate(shop, state, trial_head, trial_order, degree)
        relocate(shop, state, j, old_mode, old_after)
        return (fallback, value) if value >= 0 else (-1, -1)
    return chosen, best


@njit(cache=True, nogil=True)
def estimate_within(shop, state, head, tail, j, after, jumped):  # type: ignore[no-untyped-def]
    """Estimated makespan after moving `j` right after `after` on its own machine: heads and tails of
    the tasks between the two places recomputed along the new sequence, those of every other task kept."""
    duration, release = shop[DURATION], shop[RELEASE]
    pred_ptr, pred_task, pred_lag = shop[PRED_PTR], shop[PRED_TASK], shop[PRED_LAG]
    succ_ptr, succ_task, succ_lag = shop[SUCC_PTR], shop[SUCC_TASK], shop[SUCC_LAG]
    mode, mprev, mnext = state[MODE], state[MPREV], state[MNEXT]
    count = _jumped(state, j, after, jumped)
    size = abs(count) + 1
    segment = np.empty(size, dtype=np.int64)
    if count > 0:  # j moves right: the jumped tasks, then j
        segment[: size - 1] = jumped[: size - 1]
        segment[size - 1] = j
        before, behind = mprev[j], mnext[after]
    else:  # j moves left: j, then the jumped tasks (collected backwards)
        segment[0] = j
        for k in range(size - 1):
            segment[size - 1 - k] = jumped[k]
        before, behind = after, mnext[j]
    starts = np.empty(size, dtype=np.int64)
    end = 0 if before < 0 else head[before] + duration[mode[before]]
    for k in range(size):
        x = segment[k]
        begin = max(release[x], end)
        for e in range(pred_ptr[x], pred_ptr[x + 1]):
            i = pred_task[e]
            begin = max(begin, head[i] + duration[mode[i]] + pred_lag[e])
        starts[k] = begin
        end = begin + duration[mode[x]]
    rest = 0 if behind < 0 else tail[behind]
    span = 0
    for k in range(size - 1, -1, -1):
        x = segment[k]
        after_x = rest
        for e in range(succ_ptr[x], succ_ptr[x + 1]):
            after_x = max(after_x, succ_lag[e] + tail[succ_task[e]])
        rest = duration[mode[x]] + after_x
        span = max(span, starts[k] + rest)
    return span


@njit(cache=True, nogil=True)
def shake(shop, state, head, tail, order, degree, path, by_machine, cand):  # type: ignore[no-untyped-def]
    """A few random critical moves that keep the sequences acyclic."""
    mode, mprev = state[MODE], state[MPREV]
    for _ in range(np.random.randint(2, 6)):
        evaluate(shop, state, head, order, degree)
        tails(shop, state, order, tail)
        length = critical_path(shop, state, head, path, by_machine)
        count = block_moves(state, path, by_machine, length, cand, 0)
        count = machine_moves(shop, state, head, tail, path, length, cand, count)
        if count == 0:
            return
        c = np.random.randint(0, count)
        j = cand[c, 0]
        old_mode, old_after = mode[j], mprev[j]
        relocate(shop, state, j, cand[c, 1], cand[c, 2])
        if evaluate(shop, state, head, order, degree) < 0:
            relocate(shop, state, j, old_mode, old_after)


@njit(cache=True, nogil=True)
def seed_random(value):  # type: ignore[no-untyped-def]
    """Seed the compiled code's random generator (of the calling thread)."""
    np.random.seed(value)
