"""reusevos-edge: the reuse-gate VOS network (G-FRTM) as stateless on-device programs.

Importing this package imports torch and numpy only; export backends are imported lazily
by the converters and runtimes that need them.
"""

__version__ = "0.1.0"
