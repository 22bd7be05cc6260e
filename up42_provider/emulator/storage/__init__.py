"""Storage domain: assets, STAC storage, blobs and signed URLs, in both generations.

``models`` holds the records and :class:`~up42_provider.emulator.storage.models.AssetStore` (the
one place for assets, items and collections), ``blobs`` the lazily built files and signed URLs,
``gcs`` the GCS-like download answers, ``stac`` the shared STAC wire view, ``responses`` /
``responses_current`` the handlers and ``urls`` the routes.
"""
