"""Shared test helpers: real server processes, free ports, service checks."""
