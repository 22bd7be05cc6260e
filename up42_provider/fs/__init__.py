"""Object-storage filesystems the provider registers with Airflow (see ``gcs``)."""
