"""A local emulator of the UP42 API (the contract of the 2023 SDK generation).

Start it with the ``up42-emulator`` command, or in-process with
:class:`up42_provider.emulator.server.EmulatorServer`.
"""

from up42_provider.emulator.config import EmulatorConfig, FaultConfig

__all__ = ["EmulatorConfig", "FaultConfig"]
