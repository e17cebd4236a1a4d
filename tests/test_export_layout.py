"""The network picture's layout: deterministic, inside the square, no node on another."""

from __future__ import annotations

import itertools
import math

import pytest

from ringfinder.export.case import Edge, Node
from ringfinder.export.pictures import layout


def _star(persons: int) -> tuple[list[Node], list[Edge]]:
    """A doctor and a pharmacy that every person visits: both hubs sit at the centre."""
    hubs = [Node("D1", "doctor", "D1"), Node("P1", "pharmacy", "P1")]
    people = [Node(f"p{i}", "person", f"p{i}") for i in range(persons)]
    edges = [Edge(p.id, h.id, "visit", records=3) for p in people for h in hubs]
    return hubs + people, edges


@pytest.mark.parametrize("persons", [3, 8, 20, 60])
def test_star_hubs_do_not_overlap(persons: int) -> None:
    nodes, edges = _star(persons)
    pos = layout(nodes, edges)
    assert set(pos) == {n.id for n in nodes}
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in pos.values())
    closest = min(math.dist(a, b) for a, b in itertools.combinations(pos.values(), 2))
    # node markers are about 0.03 wide in the 9-inch picture
    assert closest >= 0.03, closest
    assert math.dist(pos["D1"], pos["P1"]) >= 0.05


def test_layout_is_deterministic() -> None:
    nodes, edges = _star(12)
    assert layout(nodes, edges) == layout(nodes, edges)
