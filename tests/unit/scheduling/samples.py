"""Small handmade problems whose best plans can be worked out by hand."""

from __future__ import annotations

from pathlib import Path

from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, Task

# the public benchmark instances kept in the repository (sources in each folder's SOURCES.md)
BENCHMARK_DATA = Path(__file__).resolve().parents[3] / "benchmarks" / "data"
BRANDIMARTE = BENCHMARK_DATA / "fjsp" / "brandimarte"
PSPLIB_MM = BENCHMARK_DATA / "psplib-mm"

MULTI_MODE = """\
************************************************************************
file with basedata            : handmade.bas
initial value random generator: 1
************************************************************************
projects                      :  1
jobs (incl. supersource/sink ):  4
horizon                       :  20
RESOURCES
  - renewable                 :  1   R
  - nonrenewable              :  1   N
  - doubly constrained        :  0   D
************************************************************************
PRECEDENCE RELATIONS:
jobnr.    #modes  #successors   successors
   1        1          2           2   3
   2        2          1           4
   3        2          1           4
   4        1          0
************************************************************************
REQUESTS/DURATIONS:
jobnr. mode duration  R 1  N 1
------------------------------------------------------------------------
  1      1     0       0    0
  2      1     2       1    3
         2     5       1    1
  3      1     2       1    3
         2     5       1    1
  4      1     0       0    0
************************************************************************
RESOURCEAVAILABILITIES:
  R 1  N 1
    1    4
************************************************************************
"""


def machine_choice() -> Problem:
    """One part, a slow machine listed first and a fast one: the best plan takes 3."""
    resources = (Resource("slow"), Resource("fast"))
    task = Task("part", (Mode(10, {"slow": 1}, "slow"), Mode(3, {"fast": 1}, "fast")))
    return Problem(resources, (task,))


def transport() -> Problem:
    """A part made near the build site (5, no transport) or far away (2 plus 10 on the road)."""
    resources = (Resource("near"), Resource("far"), Resource("bench"))
    part = Task("part", (Mode(5, {"near": 1}), Mode(2, {"far": 1})))
    assembly = Task("assembly", (Mode(4, {"bench": 1}),))
    arc = Precedence("part", "assembly", mode_lags=(0, 10))
    return Problem(resources, (part, assembly), (arc,))


def opening_hours() -> Problem:
    """Starts allowed only in [0, 10) and [100, 110): the long job first runs past closing (25)."""
    resources = (Resource("printer", 1, ((0, 10), (100, 110))),)
    tasks = (
        Task("long", (Mode(20, {"printer": 1}),)),
        Task("short", (Mode(5, {"printer": 1}),)),
    )
    return Problem(resources, tasks)


def small_shop() -> Problem:
    """Eight parts on three machines of different speeds, two assemblies, a pool of two operators."""
    resources = (
        Resource("m1"),
        Resource("m2"),
        Resource("m3", 1, tuple((d * 100, d * 100 + 40) for d in range(20))),
        Resource("operators", 2),
    )
    tasks = [
        Task(
            f"p{k}",
            (Mode(6 + k, {"m1": 1}), Mode(4 + k, {"m2": 1}), Mode(3 + k, {"m3": 1})),
            release=k,
        )
        for k in range(8)
    ]
    tasks += [Task("a0", (Mode(5, {"operators": 1}),), due=40, weight=2)]
    tasks += [Task("a1", (Mode(7, {"operators": 2}),))]
    arcs = [Precedence(f"p{k}", "a0", mode_lags=(3, 0, 6)) for k in range(4)]
    arcs += [Precedence(f"p{k}", "a1", lag=2) for k in range(4, 8)]
    arcs += [Precedence("a0", "a1")]
    return Problem(resources, tuple(tasks), tuple(arcs))
