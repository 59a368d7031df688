"""pybgp.rib: route selection, sans-IO.

Owns: Adj-RIB-In/Out, the Loc-RIB with the RFC 4271 section 9.1 decision process and ECMP
multipath sets, import/export policy, and packing outgoing UPDATEs. Never does: I/O or kernel
access; it reports best-path changes for `pybgp.fib` to install.
"""
