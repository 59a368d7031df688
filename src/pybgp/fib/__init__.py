"""pybgp.fib: the kernel's forwarding table behind one typed interface.

Owns: `FibRoute`/`FibPort` (model), an in-memory fake, and the netlink implementation (the only
module in the project that imports pyroute2). Never does: route selection.
"""

from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import MAX_ECMP, FibFailure, FibPort, FibRoute, NextHop

__all__ = ["MAX_ECMP", "FibFailure", "FibPort", "FibRoute", "MemoryFib", "NextHop"]
