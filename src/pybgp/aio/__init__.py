"""pybgp.aio: the asyncio shell around the sans-IO core.

Owns: sockets (TCP, MD5, GTSM), the event loop, wall-clock time, and the `Speaker` library API.
Never does: protocol decisions; it feeds events to `pybgp.fsm` and carries out the actions it returns.
"""
