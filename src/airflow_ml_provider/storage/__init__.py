"""The artifact store as tasks read and write it (through Airflow's ObjectStoragePath): data
snapshots as DataFrames, and the versioned schemas validate_data infers."""
