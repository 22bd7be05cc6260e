"""Airflow hooks of the UP42 provider.

The hook module loads the whole client stack; DAG files import operators, which name the default
connection from here and import the hook when a task runs.
"""

DEFAULT_CONN_ID = "up42_default"
