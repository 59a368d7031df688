"""Every BGP message in the third-party captures (and MRT BGP4MP records) decodes, and re-encodes
byte for byte with the session context its connection negotiated: encode(decode(x)) == x.

No normalisation is applied to the bytes. Two kinds of exception are listed explicitly below:
- RFC 7606 faults that are the correct reading of the message (it still round-trips exactly);
- messages the codec rejects, marked xfail with the reason and reported to the codec owner (none now).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pybgp.capture import read_capture
from pybgp.decode import decode_capture
from pybgp.wire import mrt
from pybgp.wire.messages import Update, encode_message

EXPECTED_FAULTS = {
    # os-ken's generated EVPN test UPDATEs carry no ORIGIN: RFC 7606 section 7.1 / 3(d) make a missing
    # well-known mandatory attribute treat-as-withdraw.
    **{f"evpn_{n}.pcap": "missing attribute 1" for n in (
        "esi_arbitrary", "esi_as_based", "esi_l2_bridge", "esi_lacp", "esi_mac_base", "esi_router_id",
        "nlri_eth_a-d", "nlri_eth_seg", "nlri_inc_multi_eth_tag")},
}

CODEC_REJECTS: dict[str, str] = {
    # Captures whose messages the codec cannot decode, with the reason (xfail). Empty since the codec
    # learnt RFC 5291 ORF entries in ROUTE-REFRESH (bgp-orf.pcapng, bgp_orf_prefix_advertisement).
}


def capture_files() -> list[Path]:
    root = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "pcap" / "bgp"
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".out")


@pytest.mark.parametrize("cap", capture_files(), ids=lambda p: p.name)
def test_capture_messages_round_trip(cap: Path) -> None:
    failures = []
    total = 0
    for item in decode_capture(read_capture(cap)):
        total += 1
        where = f"{cap.name} frame {item.captured.frame}"
        if item.message is None:
            failures.append(f"{where}: {item.error}: {item.captured.data.hex()}")
            continue
        assert item.context is not None
        if isinstance(item.message, Update) and item.message.fault is not None:
            assert EXPECTED_FAULTS.get(cap.name, "<none>") in item.message.fault.reason, where
        assert encode_message(item.message, item.context) == item.captured.data, where
    assert total > 0
    if failures:
        if cap.name in CODEC_REJECTS:
            pytest.xfail(f"{CODEC_REJECTS[cap.name]}: {failures[0]}")
        pytest.fail("\n".join(failures))
    assert cap.name not in CODEC_REJECTS, "codec now decodes this capture: drop it from CODEC_REJECTS"


def test_mrt_bgp4mp_messages_round_trip(testdata: Path) -> None:
    """BGP4MP records from RIS, RouteViews, BIRD, Quagga and OpenBGPD dumps (full table excluded:
    it is compared prefix by prefix with bgpdump in test_mrt.py)."""
    files = [p for p in (testdata / "mrt").rglob("*")
             if p.is_file() and "test_expect" not in p.parts and "et-header" not in p.name]
    checked = 0
    for f in files:
        for rec in mrt.read_mrt(f):
            body = rec.body
            if not isinstance(body, mrt.Bgp4mpMessage):
                continue
            if f.name == "updates.nlri_mask_trailing_bits.gz":
                assert body.message is None  # NLRI overrun: see test_mrt.py
                continue
            assert body.message is not None, (f.name, rec.offset, body.error)
            assert encode_message(body.message, body.context) == body.raw, (f.name, rec.offset)
            checked += 1
    assert checked > 12000
