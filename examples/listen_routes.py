"""Accept one BGP neighbor and print every best-route change it causes, with the pybgp library.

    python examples/listen_routes.py --listen 127.0.0.1 --port 1179 --peer 127.0.0.2 \
        --peer-as 64600 --local-as 64600

Listens passively (the neighbor connects to us), then prints one line per change:
`+ 10.10.0.0/16 via 127.0.0.2 as-path [] local-pref 100` or `- 10.10.0.0/16`. Stops after `--count`
changes or `--duration` seconds. On eBGP an import policy is needed (RFC 8212): `--ebgp-accept`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress

from pybgp.aio.speaker import Speaker
from pybgp.fsm.config import PeerSettings
from pybgp.rib.policy import Policy
from pybgp.rib.route import as_path_string


async def main(args: argparse.Namespace) -> None:
    speaker = Speaker(local_as=args.local_as, router_id=args.router_id or args.listen,
                      listen_addresses=(args.listen,), listen_port=args.port)
    speaker.add_neighbor(
        PeerSettings(local_as=args.local_as, remote_as=args.peer_as,
                     router_id=ipaddress.IPv4Address(args.router_id or args.listen),
                     remote_address=ipaddress.ip_address(args.peer), passive=True),
        import_policy=Policy.accept_all() if args.ebgp_accept else None)
    seen = 0
    async with speaker:
        print(f"listening on {args.listen}:{speaker.listen_port}", flush=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                async for change in speaker.changes():
                    best = change.best
                    if best is None:
                        print(f"- {change.prefix}", flush=True)
                    else:
                        hops = ",".join(str(p.next_hop) for p in change.multipath)
                        print(f"+ {change.prefix} via {hops} as-path [{as_path_string(best.attributes)}] "
                              f"local-pref {best.attributes.local_pref}", flush=True)
                    seen += 1
                    if args.count and seen >= args.count:
                        break


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--port", type=int, default=179)
    p.add_argument("--peer", required=True)
    p.add_argument("--peer-as", type=int, required=True)
    p.add_argument("--local-as", type=int, required=True)
    p.add_argument("--router-id")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--duration", type=float, default=3600.0)
    p.add_argument("--ebgp-accept", action="store_true")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
