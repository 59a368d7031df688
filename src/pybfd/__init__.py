"""pybfd: an RFC 5880 Bidirectional Forwarding Detection engine.

Owns: the BFD control packet codec (with authentication), a sans-IO session state machine, a
manager for many sessions, and asyncio transports for single-hop (RFC 5881) and multihop (RFC 5883)
BFD. `packet` and `session` are sans-IO: they never touch sockets or clocks.
"""

__version__ = "0.1.0"
