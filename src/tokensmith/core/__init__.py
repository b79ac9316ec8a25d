"""The pure domain of tokensmith: tokens, keys, passwords, sessions, the clock and the ports.

Nothing here imports a web framework, a database driver or Redis; adapters in
:mod:`tokensmith.storage` implement the ports in :mod:`tokensmith.core.ports`.
"""
