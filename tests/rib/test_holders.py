"""`rib.holders`: one shared holder per distinct (peer, next hops, staleness, path id), found by
identity, and the comparisons of stored candidates that ignore staleness alone."""

from __future__ import annotations

import ipaddress

import pytest

from pybgp.rib import holders
from pybgp.rib.holders import Holders, pairs, same_but_stale, same_selection
from pybgp.rib.route import PeerInfo
from pybgp.wire.attributes import PathAttributes

IP = ipaddress.IPv4Address
TOR1, TOR2 = PeerInfo(name="tor1"), PeerInfo(name="tor2")
HOPS = (IP("10.69.0.129"),)


def test_one_holder_per_value_whatever_the_order_of_asking() -> None:
    table = Holders()
    a = table.get(TOR1, (), False, 0)
    b = table.get(TOR2, HOPS, False, 0)
    c = table.get(TOR1, (), True, 0)
    assert a == (TOR1, (), False, 0) and b == (TOR2, HOPS, False, 0) and c == (TOR1, (), True, 0)
    for _ in range(3):  # the last two, then the table: the same objects every time
        assert table.get(TOR1, (), False, 0) is a
        assert table.get(TOR2, HOPS, False, 0) is b
        assert table.get(TOR1, (), True, 0) is c
    assert table.get(TOR1, (), False, 7) is not a  # another path id, another holder


def test_found_by_identity_not_by_value() -> None:
    """An equal peer of another session (a new `PeerInfo` per Established) gets its own holder."""
    table = Holders()
    again = PeerInfo(name="tor1")
    assert again == TOR1 and table.get(again, (), False, 0) is not table.get(TOR1, (), False, 0)


def test_the_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holders, "HOLDER_CACHE_SIZE", 4)
    table = Holders()
    peers = [PeerInfo(name=f"p{i}") for i in range(10)]
    made = [table.get(p, (), False, 0) for p in peers]
    assert len(table._table) <= 4
    assert [h[0] for h in made] == peers  # every answer right, remembered or not


def test_staleness_alone_compares_equal() -> None:
    table = Holders()
    fresh, stale = table.get(TOR1, (), False, 0), table.get(TOR1, (), True, 0)
    other = table.get(TOR2, (), False, 0)
    assert same_but_stale(fresh, stale) and not same_but_stale(fresh, other)
    assert not same_but_stale(fresh, table.get(TOR1, HOPS, False, 0))
    assert not same_but_stale(fresh, table.get(TOR1, (), False, 1))
    a, b = PathAttributes(), PathAttributes(med=5)
    assert same_selection((a, fresh, b, other), (a, stale, b, other))
    assert not same_selection((a, fresh, b, other), (b, fresh, a, other))
    assert not same_selection((a, fresh), (a, fresh, b, other))
    assert list(pairs((a, fresh, b, other))) == [(a, fresh), (b, other)]
