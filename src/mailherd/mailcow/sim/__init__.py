"""A faithful simulator of Mailcow's REST API (see docs/mailcow.md).

``state`` (model and invariants), ``api`` (Mailcow's URLs, JSON, errors),
``control`` (the ``/_sim/`` prefix), ``server`` (serve / SimulatorThread).
"""

from .server import SimulatorHandle, SimulatorThread, build_app, serve
from .state import SimState

__all__ = ["SimState", "SimulatorHandle", "SimulatorThread", "build_app", "serve"]
