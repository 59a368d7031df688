"""Start pybgpd from a script path, so the feed benchmark can run it under `python -m cProfile`.

Why: `PYBGP_FEED_PROFILE=FILE` (see feed_lab.PybgpdReceiver) profiles the stock daemon with cProfile,
which wants a script; this is that script. It once also patched the daemon's O(table) housekeeping
(`--fix`); those paths are fixed in the product now (O(1) gauges and counters), so it only launches.
Never does: change any behaviour of pybgpd; the arguments go to `pybgp.daemon.main:main` unchanged.
"""

from __future__ import annotations

import sys


def main() -> int:
    from pybgp.daemon.main import main as pybgpd_main

    return pybgpd_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
