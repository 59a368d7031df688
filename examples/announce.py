"""Announce prefixes to one BGP neighbor with the pybgp library, then withdraw them on exit.

    python examples/announce.py --peer 127.0.0.1 --peer-as 64600 --local-as 64600 \
        --local-address 127.0.0.2 10.10.0.0/16 10.20.0.0/16

Runs until interrupted, or for `--duration` seconds. The speaker connects to the peer (port 179 by
default, `--port` to change it), announces every prefix with our address as next hop, and prints
the session state. On eBGP an export policy is needed (RFC 8212): `--ebgp-accept` sets accept-all.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress

from pybgp.aio.speaker import Speaker
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State
from pybgp.rib.policy import Policy


async def main(args: argparse.Namespace) -> None:
    speaker = Speaker(local_as=args.local_as, router_id=args.router_id or args.local_address)
    peer = speaker.add_neighbor(
        PeerSettings(local_as=args.local_as, remote_as=args.peer_as, router_id=ipaddress.IPv4Address(
            args.router_id or args.local_address), remote_address=ipaddress.ip_address(args.peer),
            local_address=ipaddress.ip_address(args.local_address), port=args.port, connect_retry_time=2.0),
        export_policy=Policy.accept_all() if args.ebgp_accept else None)
    for prefix in args.prefixes:
        speaker.announce(prefix)
    async with speaker:
        await peer.wait_state(State.ESTABLISHED, timeout=args.duration)
        print(f"established with {args.peer} AS{args.peer_as}; announced {len(args.prefixes)} prefixes",
              flush=True)
        await asyncio.sleep(args.duration)
        for prefix in args.prefixes:
            speaker.withdraw(prefix)
        await asyncio.sleep(0.2)  # let the withdrawals leave before the Cease
    print("done", flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prefixes", nargs="+")
    p.add_argument("--peer", required=True)
    p.add_argument("--peer-as", type=int, required=True)
    p.add_argument("--local-as", type=int, required=True)
    p.add_argument("--local-address", required=True)
    p.add_argument("--router-id")
    p.add_argument("--port", type=int, default=179)
    p.add_argument("--duration", type=float, default=3600.0)
    p.add_argument("--ebgp-accept", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
