# The Airflow image for the official chart: apache/airflow with airflow-ml-provider.
#   uv build --wheel && docker build -t registry.example.com/ml/airflow-ml:0.1.0 .
# Pinned base; runs as the image's non-root user "airflow" (uid 50000).
FROM apache/airflow:3.3.2-python3.11

USER 50000
COPY --chown=50000:0 dist/airflow_ml_provider-0.1.0-py3-none-any.whl /tmp/
# Keep Airflow at the base image's version while the provider's dependencies install.
RUN pip install --no-cache-dir "apache-airflow==3.3.2" \
        /tmp/airflow_ml_provider-0.1.0-py3-none-any.whl \
    && rm /tmp/airflow_ml_provider-0.1.0-py3-none-any.whl
