"""pybgp: a pure-Python BGP-4 speaker for layer-3 leaf-spine servers.

Sub-packages: `wire` (codec), `fsm` (RFC 4271 session), `rib` (route selection and policy), `fib`
(kernel routes), `aio` (sockets and the event loop), `daemon` (pybgpd, pybgpctl), `testing` (the
network-namespace fabric lab). The first three are sans-IO: they never touch sockets or clocks.
"""

__version__ = "0.1.0"
