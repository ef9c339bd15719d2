"""The "ML pipelines" pages in the Airflow UI (an Airflow plugin: FastAPI app + nav entry)."""

# Where the pages live on the api-server.
URL_PREFIX = "/ml-pipelines"
