"""Airflow hooks of the UP42 provider."""
