"""Sensors of the UP42 provider (import the classes from their modules)."""
