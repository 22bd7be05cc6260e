"""Webhooks: definitions, signed event delivery and its log (2023 generation paths, reachable by both)."""
