"""pybgp.wire: the BGP-4 codec, pure functions over bytes.

Owns: turning bytes into frozen message objects and back, for every message, capability and path
attribute pybgp speaks, with RFC 4271 section 6 / RFC 7606 error handling. Never does: I/O, clocks,
session state or route selection. Decoding takes a `WireContext` (negotiated session facts) and
raises only `WireError` subclasses, whatever the bytes.
"""
