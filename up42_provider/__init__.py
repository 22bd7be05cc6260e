"""Apache Airflow provider for UP42: catalog search, orders, processing jobs, downloads."""

__version__ = "0.1.0"
