"""Coordinate systems, geometry helpers, spatial indexes and the spatial database engine.

Importing this package imports pyproj and pyogrio first: once mod_spatialite is loaded into
the process, importing them later can crash the interpreter at exit (see PLATFORM.md).
"""

import pyogrio  # noqa: F401  (import order matters, see the module docstring)
import pyproj  # noqa: F401
