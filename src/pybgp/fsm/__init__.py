"""pybgp.fsm: the RFC 4271 section 8 BGP session as a sans-IO state machine.

Owns: states, events, timers (as absolute deadlines), OPEN negotiation, collision detection, and the
actions a session asks its adapter to carry out (send bytes, connect, close, report routes).
Never does: sockets, the event loop or reading the clock: every entry point takes `now`.
"""
