"""pybgp.daemon: `pybgpd` (TOML config, control socket, metrics) and `pybgpctl`.

Owns: turning a config file into a running speaker with BFD, kernel routes and origination, and the
operator's command-line tool. Never does: protocol logic of its own.
"""
