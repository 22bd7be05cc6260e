"""Placeholder: filled in by its owner."""

from starlette.routing import BaseRoute

from up42_provider.emulator.state import EmulatorState


def install(state: EmulatorState) -> list[BaseRoute]:
    return []
