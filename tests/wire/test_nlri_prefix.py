from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix


def test_prefix_parse_and_str_round_trip() -> None:
    p = Prefix.parse("10.69.0.0/26")
    assert p.afi == Afi.IPV4 and p.length == 26
    assert str(p) == "10.69.0.0/26"
    assert str(Prefix.parse("2001:db8::/32")) == "2001:db8::/32"


def test_prefix_contains() -> None:
    outer = Prefix.parse("10.64.0.0/14")
    assert outer.contains(Prefix.parse("10.65.1.0/24"))
    assert not outer.contains(Prefix.parse("10.68.0.0/24"))
    assert not outer.contains(Prefix.parse("10.0.0.0/8"))
