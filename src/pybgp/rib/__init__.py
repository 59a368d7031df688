"""pybgp.rib: route selection, sans-IO.

Owns: Adj-RIB-In/Out (`adj_rib`), the Loc-RIB (`loc_rib`) with the RFC 4271 section 9.1 decision
process and ECMP multipath sets (`decision`), import/export policy built from plain dicts
(`policy`), packing outgoing UPDATEs (`update_builder`), routes and their origins (`route`), and the
whole pipeline driven by events and `now` (`manager.Rib`, its receive loops in `receive_loops`).
Never does: I/O, clocks or kernel access; it reports best-path changes (`route.BestChange`) for
`pybgp.aio.speaker` to deliver and `pybgp.fib` to install.
"""
