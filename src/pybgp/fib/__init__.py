"""pybgp.fib: the kernel's forwarding table behind one typed interface.

Owns: `FibRoute`/`FibPort` (model), an in-memory fake, and the netlink implementation (the only
module in the project that imports pyroute2). Never does: route selection.
"""
