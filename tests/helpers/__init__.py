"""What tests share: stand-ins and emulators for what cannot run here, the example's paths,
and the helpers that write, run and read pipelines. Imported as ``helpers.<module>`` (pytest
puts tests/ on the path: ``pythonpath`` in pyproject.toml)."""
