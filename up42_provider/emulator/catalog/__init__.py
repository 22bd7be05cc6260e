"""Catalog search: host search and quicklooks of both generations; today's STAC catalog ``/v2/catalog/``."""
