"""pybgp.testing: the leaf-spine fabric lab in network namespaces, daemon drivers and fixtures.

Owns: creating and tearing down namespaces, veth links and daemons (BIRD, FRR, GoBGP, pybgpd),
cutting links, watching kernel routes with timestamps, and pytest fixtures. Used by the tests, the
demo and the benchmarks, and by anyone who wants a virtual fabric in a test harness.
"""
