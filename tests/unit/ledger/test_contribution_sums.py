"""Contributions summed from the ledger's sums: per agent, per build, and shares of the total."""

from __future__ import annotations

import pytest

from coordinator.ledger.contributions import Sum, aggregate
from protocol.errors import InvalidInput

SUMS = [
    # a build at lab-a: lab-a makes 4 parts, lab-b makes 2 for it (for others)
    Sum("fablab:lab-a", "produce", "each", 4.0, 2, build_id="b1", site="lab-a"),
    Sum("fablab:lab-b", "produce", "each", 2.0, 1, build_id="b1", site="lab-a"),
    Sum("fablab:lab-a", "use", "hour", 3.0, 2, build_id="b1", site="lab-a"),
    Sum("fablab:lab-b", "use", "hour", 1.0, 1, build_id="b1", site="lab-a"),
    Sum("fablab:lab-b", "consume", "g", 50.0, 1, build_id="b1", site="lab-a"),
    Sum("fablab:lab-a", "work", "hour", 0.5, 1, build_id="b1", site="lab-a"),
    Sum("person:olga", "work", "each", 3.0, 3, build_id="b1", site="lab-a"),
    Sum("supplier:acme", "transfer", "each", 12.0, 1, build_id="b1", site="lab-a"),
    # a second build at lab-b, made there: its own parts
    Sum("fablab:lab-b", "produce", "each", 1.0, 1, build_id="b2", site="lab-b"),
    Sum("fablab:lab-b", "use", "hour", 4.0, 1, build_id="b2", site="lab-b"),
    # publications: ada publishes two versions of one design and one of another, bob maintains one
    Sum("person:ada", "work", "each", 2.0, 2, source_kind="publish", design="press", version="1.0.0"),
    Sum("person:ada", "work", "each", 1.0, 1, source_kind="publish", design="press", version="1.1.0"),
    Sum("person:ada", "work", "each", 1.0, 1, source_kind="publish", design="clip", version="0.1.0"),
    Sum("person:bob", "work", "each", 1.0, 1, source_kind="publish", design="press", version="1.1.0"),
    Sum("person:ada", "cite", "each", 1.0, 1, source_kind="publish", design="press", version="1.1.0"),
]


def test_fablabs_shares_add_up_to_the_totals() -> None:
    found = aggregate(SUMS, "fablab")
    labs = {row["name"]: row for row in found["agents"]}
    assert [row["name"] for row in found["agents"]] == ["lab-b", "lab-a"]  # most machine hours first
    assert (labs["lab-b"]["machine_hours"], labs["lab-a"]["machine_hours"]) == (5.0, 3.0)
    assert (labs["lab-b"]["parts"], labs["lab-b"]["parts_for_others"]) == (3.0, 2.0)
    assert labs["lab-a"]["parts_for_others"] == 0.0  # made for a build at its own site
    assert labs["lab-a"]["work_hours"] == 0.5 and labs["lab-b"]["material_g"] == 50.0
    total = found["total"]
    assert (total["machine_hours"], total["material_g"], total["parts"]) == (8.0, 50.0, 7.0)
    for share in ("hours_share", "material_share", "parts_share"):
        assert sum(row[share] or 0.0 for row in found["agents"]) == pytest.approx(1.0)
    assert labs["lab-a"]["material_share"] == 0.0


def test_per_build_shares_are_of_the_builds_own_total() -> None:
    builds = {b["build"]: b for b in aggregate(SUMS, "fablab")["builds"]}
    assert set(builds) == {"b1", "b2"} and builds["b1"]["site"] == "lab-a"
    b1 = {row["name"]: row for row in builds["b1"]["agents"]}
    assert b1["lab-a"]["hours_share"] == 0.75 and b1["lab-b"]["hours_share"] == 0.25
    assert builds["b2"]["agents"][0]["hours_share"] == 1.0 and builds["b2"]["total"]["parts"] == 1.0


def test_people_count_their_work_and_the_design_versions_they_published() -> None:
    people = {row["name"]: row for row in aggregate(SUMS, "person")["agents"]}
    assert set(people) == {"ada", "bob", "olga"}  # no fablab, no supplier
    assert (people["ada"]["designs"], people["ada"]["versions"], people["ada"]["work_events"]) == (2, 3, 4)
    assert (people["bob"]["designs"], people["bob"]["versions"]) == (1, 1)
    assert (people["olga"]["work_events"], people["olga"]["versions"]) == (3, 0)
    assert people["olga"]["hours_share"] == 0.0  # people give no machine hours


def test_an_empty_window_has_no_shares() -> None:
    found = aggregate([], "person")
    assert found["agents"] == [] and found["builds"] == []
    assert found["total"]["hours_share"] is None and found["total"]["machine_hours"] == 0.0


def test_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(InvalidInput, match="fablab or person"):
        aggregate(SUMS, "machine")
