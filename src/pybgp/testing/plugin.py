"""pytest plugin (entry point `pybgp_lab`): fixtures that give a test a ready lab.

Loaded automatically once pybgp is installed; the fixtures only create namespaces when a test asks.
"""
