"""Client-side helpers: AOI parsing (geometry) and UP42 request-body builders (parameters).

No HTTP here; heavy geospatial libraries are imported lazily inside the functions that need them.
"""
