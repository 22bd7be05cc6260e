# The official Airflow image plus this provider (and with it the `up42-emulator` console script).
# Built by docker-compose.yaml for every Airflow service and for the emulator service.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2
FROM ${AIRFLOW_IMAGE}

COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/provider/
COPY --chown=airflow:0 up42_provider /opt/airflow/provider/up42_provider

# The `plots` extra: the example DAGs render coverage plots, mosaics and HTML maps; `gcs`: gs:// buckets
# (the image's Google provider takes gs:// over when present, with the same connection).
# Pin the image's own Airflow version (AIRFLOW_VERSION is set by the base image) so that installing the
# provider can never up- or downgrade Airflow itself.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow/provider[plots,gcs]"
