"""Machine-learning code with no Airflow imports: it runs in the local training process, a
training pod, a serving pod, and inside the operators' tasks.

At the top, what is started or stored by name:

- ``train``, ``reproduce``, ``serve_verified`` — entry points (``python -m``).
- ``transformers``, ``labels``, ``partitioned``, ``router_model``, ``torch_rows_model`` — classes
  and code saved inside models. Their dotted paths are written into every stored model (skops
  type names, MLflow models-from-code files), so they keep these paths: moving one would
  leave every registered champion unloadable. ``responses`` (every answer of a model in
  one pass) is what they and the gate's scoring share.

Below, one sub-package per concern, in the order of the flow: ``data`` (read, split, check),
``features`` (columns to a pipeline), ``training`` (one run), ``search``, ``partitions``,
``evaluation`` (score and decide), ``registry``, ``drift`` and ``integrity`` (what may be
imported and loaded). Sub-packages import ``core`` and each other without cycles
(tests/unit/test_import_layers.py).
"""
