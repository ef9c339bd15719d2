"""Pipeline files an attacker with write access to one of them would try: code through every
slot that names an import path (private helpers, re-exports, functions, dunder attributes,
builtins, operator/functools tricks), parameters that carry code or reach files, locations
outside the roots (path and URL tricks) and Jinja in every string field.

Every payload that could run tries to create ``MARKER`` (a file name the test puts in its
scratch folder): a case passes only when it is refused with file:line:column and no marker
file exists afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

MARKER = "PWNED"
SHELL = ["/bin/sh", "-c", f"touch {MARKER}"]

BASE = """\
pipeline: hostile
owner: attacker
schedule: "@daily"
start_date: 2026-01-01
data:
  source: data.csv
  target: label
  split: {test_size: 0.25, seed: 7, stratify: true}
features:
  columns:
    note: {type: text}
training:
  estimator: sklearn.linear_model.LogisticRegression
  params: {max_iter: 200}
evaluation:
  primary_metric: accuracy
registry:
  model_name: hostile
alerts:
  email: [oncall@example.com]
"""
"""A valid pipeline every case changes in one place."""


@dataclass(frozen=True)
class Hostile:
    """One hostile file: ``text``, the ``field`` the refusal must name and the ``value``
    whose position it must point at (its first occurrence in the file)."""

    name: str
    text: str
    field: str
    value: str
    deep: bool = False
    """Refused by ``airflow-ml check``'s deep checks (the name must be imported to judge it);
    every other case is refused while the file is parsed."""


def _replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


PARSE_TIME_PATHS = {
    # private helpers and modules (sklearn's subprocess re-export among them)
    "check_output": "sklearn.utils._testing.check_output",
    "run_python_script": "sklearn.utils._testing.assert_run_python_script_without_output",
    "mocking_classifier": "sklearn.utils._mocking.CheckingClassifier",
    "private_module_class": "sklearn.ensemble._forest.RandomForestClassifier",
    "private_config": "sklearn._config.set_config",
    "lightgbm_safe_call": "lightgbm.basic._safe_call",
    "xgboost_check_call": "xgboost.core._check_call",
    "private_last": "sklearn.base._fit_context",
    # test, utility and internal modules
    "utils_bunch": "sklearn.utils.Bunch",
    "utils_parallel": "sklearn.utils.parallel.Parallel",
    "tests_module": "sklearn.tests.test_base.MyEstimator",
    "externals": "sklearn.externals.array_api_compat.numpy",
    "xgboost_testing": "xgboost.testing.make_dataset",
    # dunder attributes
    "dunder_builtins": "sklearn.__builtins__",
    "dunder_import": "sklearn.base.__import__",
    "dunder_loader": "sklearn.ensemble.__loader__",
    "dunder_subclasses": "sklearn.base.BaseEstimator.__subclasses__",
    "dunder_globals": "sklearn.base.clone.__globals__",
    # builtins and the standard library
    "builtins_eval": "builtins.eval",
    "builtins_exec": "builtins.exec",
    "builtins_open": "builtins.open",
    "os_system": "os.system",
    "subprocess_popen": "subprocess.Popen",
    "posix_system": "posix.system",
    "importlib": "importlib.import_module",
    "runpy": "runpy.run_path",
    "pickle_loads": "pickle.loads",
    "shutil_rmtree": "shutil.rmtree",
    # operator / functools tricks
    "operator_methodcaller": "operator.methodcaller",
    "operator_attrgetter": "operator.attrgetter",
    "functools_partial": "functools.partial",
    "functools_reduce": "functools.reduce",
    # a lookalike package and a bare module
    "lookalike_package": "sklearnx.linear_model.LogisticRegression",
    "single_name": "eval",
}
"""Import paths refused by spelling alone, wherever YAML names code."""

DEEP_PATHS = {
    # public functions and non-classes in public modules of allowed packages
    "public_function": "sklearn.base.clone",
    "dump_files": "sklearn.datasets.dump_svmlight_file",
    "fetch_network": "sklearn.datasets.fetch_openml",
    "set_config": "sklearn.set_config",
    "cross_val_score": "sklearn.model_selection.cross_val_score",
    "module_itself": "sklearn.linear_model",
    # classes of the wrong kind, and re-exports of classes defined elsewhere
    "not_an_estimator": "sklearn.model_selection.KFold",
    "kernel_class": "sklearn.gaussian_process.kernels.RBF",
    "reexported_numpy": "sklearn.linear_model.np",
}
"""Import paths that look like allowed code and are refused once imported."""

SLOTS = {
    "estimator": (
        "estimator: sklearn.linear_model.LogisticRegression",
        "estimator: {}\n  task: classification",
        "training.estimator",
    ),
    "custom_transformer": (
        "training:\n",
        "  custom:\n    - {{class: {}, columns: [x]}}\ntraining:\n",
        "features.custom[0].class",
    ),
    "notifier": (
        "  email: [oncall@example.com]\n",
        "  email: [oncall@example.com]\n  notifiers:\n    - {{class: {}}}\n",
        "alerts.notifiers[0].class",
    ),
    "tokenizer": (
        "note: {type: text}",
        "note: {{type: text, tokenizer: {}}}",
        "features.columns.note.tokenizer",
    ),
}


def _slot_case(slot: str, label: str, path: str, deep: bool) -> Hostile:
    old, template, field = SLOTS[slot]
    text = _replace(old, template.format(path))
    deep = deep and slot in ("estimator", "custom_transformer")
    return Hostile(f"{slot}-{label}", text, field, path, deep=deep)


def _candidate_cases() -> list[Hostile]:
    candidates = (
        "estimator: sklearn.linear_model.LogisticRegression\n  params: {max_iter: 200}\n",
        "candidates:\n    - {name: good, estimator: sklearn.linear_model.LogisticRegression}\n"
        "    - {name: evil, estimator: sklearn.utils._testing.check_output}\n",
    )
    return [
        Hostile(
            "candidate-check_output",
            _replace(*candidates),
            "training.candidates[1].estimator",
            "sklearn.utils._testing.check_output",
        )
    ]


PARAMS = {
    # parameters that carry code or reach files
    "memory_cache": ("params: {max_iter: 200}", "params: {memory: /tmp/cache}", "memory", False),
    "lightgbm_file": (
        "params: {max_iter: 200}",
        "params: {forcedsplits_filename: /etc/passwd}",
        "forcedsplits_filename",
        False,
    ),
    "output_model": (
        "params: {max_iter: 200}",
        f"params: {{output_model: {MARKER}}}",
        "output_model",
        False,
    ),
    "model_path": ("params: {max_iter: 200}", "params: {save_path: /tmp/x}", "save_path", False),
    "lightgbm_alias_fs": ("params: {max_iter: 200}", "params: {fs: /etc/passwd}", "fs", False),
    "lightgbm_alias_model_out": (
        "params: {max_iter: 200}",
        f"params: {{model_out: {MARKER}}}",
        "model_out",
        False,
    ),
    "lightgbm_network": (
        "params: {max_iter: 200}",
        "params: {workers: '10.0.0.9:12400,10.0.0.8:12400', num_machine: 2}",
        "workers",
        False,
    ),
    "date_value": ("params: {max_iter: 200}", "params: {max_iter: 2026-01-01}", "max_iter", False),
    "infinite_value": ("params: {max_iter: 200}", "params: {C: .inf}", "C", False),
    "deep_value": (
        "params: {max_iter: 200}",
        "params: {class_weight: " + "[" * 12 + "1" + "]" * 12 + "}",
        "class_weight",
        False,
    ),
    "shell_args": (
        "params: {max_iter: 200}",
        "params: {args: " + str(SHELL).replace("'", "") + "}",
        "args",
        True,
    ),
    "callable_string": (
        "params: {max_iter: 200}",
        "params: {max_iter: 200, solver: os.system}",
        "solver",
        True,
    ),
}


def _param_cases() -> list[Hostile]:
    cases = []
    for label, (old, new, name, deep) in PARAMS.items():
        field = f"training.params.{name}"
        cases.append(Hostile(f"param-{label}", _replace(old, new), field, name, deep=deep))
    transformer = "training:\n"
    custom = {
        "function_transformer_func": (
            "{class: sklearn.preprocessing.FunctionTransformer, columns: [x], "
            "params: {func: os.system}}",
            "features.custom[0].params",
            "{func: os.system}",
            True,
        ),
        "function_transformer_inverse": (
            "{class: sklearn.preprocessing.FunctionTransformer, columns: [x], "
            "params: {inverse_func: subprocess.call}}",
            "features.custom[0].params",
            "{inverse_func: subprocess.call}",
            True,
        ),
        "vectorizer_reads_files": (
            "{class: sklearn.feature_extraction.text.TfidfVectorizer, columns: [note], "
            "params: {input: filename}}",
            "features.custom[0].params.input",
            "input",
            False,
        ),
        "agglomeration_memory": (
            "{class: sklearn.cluster.FeatureAgglomeration, columns: [x], "
            "params: {memory: /tmp/cache}}",
            "features.custom[0].params.memory",
            "memory",
            False,
        ),
    }
    for label, (item, field, value, deep) in custom.items():
        text = _replace(transformer, f"  custom:\n    - {item}\n{transformer}")
        cases.append(Hostile(f"custom-{label}", text, field, value, deep=deep))
    search = {
        "search_memory": "model__memory: [/tmp/cache]",
        "search_vectorizer_input": "preprocess__text_note__tfidfvectorizer__input: [filename]",
        "search_file_param": "model__forcedbins_filename: [/etc/passwd]",
        "search_network_port": "model__local_port: [12400]",
    }
    for label, line in search.items():
        name = line.split(":")[0]
        text = _replace(
            "  params: {max_iter: 200}\n",
            "  params: {max_iter: 200}\n  search:\n    method: grid\n    params:\n"
            f"      {line}\n",
        )
        cases.append(Hostile(f"search-{label}", text, f"training.search.params.{name}", name))
    return cases


LOCATIONS = {
    "absolute": "/etc/passwd",
    "parent": "../../../../etc/passwd",
    "home": "~/.ssh/id_rsa",
    "file_uri": "file:///etc/passwd",
    "file_upper": "FILE:///etc/passwd",
    "local_scheme": "local:///etc/passwd",
    "local_mixed_case": "Local:///etc/passwd",
    "unknown_scheme": "ftp://example.com/data.csv",
    "proc": "/proc/self/environ",
}
"""Locations outside every root (or of an unknown scheme)."""


def _location_cases() -> list[Hostile]:
    cases = []
    for label, where in LOCATIONS.items():
        text = _replace("source: data.csv", f'source: "{where}"')
        cases.append(Hostile(f"data-source-{label}", text, "data.source", where))
    for label in ("absolute", "local_scheme", "file_upper"):
        where = LOCATIONS[label]
        text = _replace(
            "evaluation:\n",
            "deployment:\n  strategy: batch\n  batch:\n    source: data.csv\n"
            f'    output: "{where}"\nevaluation:\n',
        )
        cases.append(Hostile(f"batch-output-{label}", text, "deployment.batch.output", where))
    for label in ("absolute", "local_scheme"):
        where = LOCATIONS[label]
        text = _replace("validation:\n", "") if "validation:\n" in BASE else BASE
        text = text.replace("features:\n", f'validation:\n  schema: "{where}"\nfeatures:\n', 1)
        cases.append(Hostile(f"schema-{label}", text, "validation.schema", where))
    notifier = "  email: [oncall@example.com]\n"
    for argument in ("files", "template", "html_content_template_file"):
        text = _replace(
            notifier,
            notifier + "  notifiers:\n    - class: airflow.providers.smtp.notifications.smtp."
            f"SmtpNotifier\n      kwargs: {{to: x@example.org, {argument}: /etc/passwd}}\n",
        )
        field = f"alerts.notifiers[0].kwargs.{argument}"
        cases.append(Hostile(f"notifier-{argument}", text, field, argument))
    return cases


JINJA = "{{ conn.smtp_default.password }}"
STRING_FIELDS = {
    "data_source": ("source: data.csv", f'source: "{JINJA}"', "data.source"),
    "data_target": ("target: label", f'target: "{JINJA}"', "data.target"),
    "estimator": (
        "estimator: sklearn.linear_model.LogisticRegression",
        f'estimator: "{JINJA}"',
        "training.estimator",
    ),
    "param_value": ("params: {max_iter: 200}", f'params: {{solver: "{JINJA}"}}', "training.params"),
    "model_name": ("model_name: hostile", f'model_name: "{JINJA}"', "registry.model_name"),
    "email": ("email: [oncall@example.com]", f'email: ["{JINJA}"]', "alerts.email[0]"),
    "batch_output": (
        "evaluation:\n",
        f'deployment:\n  strategy: batch\n  batch: {{source: data.csv, output: "{JINJA}"}}\n'
        "evaluation:\n",
        "deployment.batch.output",
    ),
    "slice_column": (
        "primary_metric: accuracy",
        f'primary_metric: accuracy\n  slices: [{{column: "{JINJA}"}}]',
        "evaluation.slices[0].column",
    ),
    "schedule": ('schedule: "@daily"', f'schedule: "{JINJA}"', "schedule"),
    "primary_metric": (
        "primary_metric: accuracy",
        f'primary_metric: "{JINJA}"',
        "evaluation.primary_metric",
    ),
    "env_secret": (
        "target: label",
        "target: ${AIRFLOW__SMTP__SMTP_PASSWORD}",
        "data.target",
    ),
    "data_source_env": (
        "source: data.csv",
        "source: ${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}",
        "data.source",
    ),
}
"""Jinja (and secrets through ${VAR}) in string fields: never rendered, refused where written."""


def _template_cases() -> list[Hostile]:
    cases = []
    for label, (old, new, field) in STRING_FIELDS.items():
        value = JINJA if JINJA in new else new.split(": ", 1)[1]
        cases.append(Hostile(f"template-{label}", _replace(old, new), field, value))
    return cases


def _yaml_tag_cases() -> list[Hostile]:
    tags = {  # the sequence form is read as plain data (a list), never constructed
        "python_object": ("!!python/object/apply:os.system [touch PWNED]", "owner"),
        "python_name": ("!!python/name:os.system", "invalid YAML"),
        "python_module": ("!!python/module:os", "invalid YAML"),
        "python_object_new": ("!!python/object/new:subprocess.Popen [[id]]", "owner"),
    }
    return [
        Hostile(
            f"yaml-tag-{label}",
            _replace("owner: attacker", f"owner: {tag}"),
            field,
            tag.split(" ")[0],
        )
        for label, (tag, field) in tags.items()
    ]


NUMBERS = {
    "min_improvement_minus_inf": ("primary_metric: accuracy", "min_improvement: -.inf", "-.inf"),
    "min_improvement_nan": ("primary_metric: accuracy", "min_improvement: .nan", ".nan"),
    "threshold_nan": ("primary_metric: accuracy", "thresholds: {accuracy: .nan}", ".nan"),
    "threshold_inf": ("primary_metric: accuracy", "thresholds: {accuracy: -.inf}", "-.inf"),
}
"""Numbers that would disable the gate (always or never promote)."""


def _number_cases() -> list[Hostile]:
    cases = []
    for label, (anchor, line, value) in NUMBERS.items():
        field = "evaluation." + line.split(":")[0]
        if field.endswith("thresholds"):
            field += ".accuracy"
        text = _replace(anchor, f"{anchor}\n  {line}")
        cases.append(Hostile(f"number-{label}", text, field, value))
    split = {
        "seed_too_large": ("seed: 7", f"seed: {2**32}", "data.split.seed", str(2**32)),
        "seed_negative": ("seed: 7", "seed: -1", "data.split.seed", "-1"),
        "test_size_tiny": ("test_size: 0.25", "test_size: 1e-300", "data.split.test_size", "1e"),
        "test_size_nan": ("test_size: 0.25", "test_size: .nan", "data.split.test_size", ".nan"),
    }
    for label, (old, new, field, value) in split.items():
        cases.append(Hostile(f"split-{label}", _replace(old, new), field, value))
    return cases


def hostile_pipelines() -> list[Hostile]:
    """Every hostile file of the suite."""
    cases = [
        _slot_case(slot, label, path, deep=False)
        for slot in SLOTS
        for label, path in PARSE_TIME_PATHS.items()
    ]
    cases += [
        _slot_case(slot, label, path, deep=True)
        for slot in SLOTS
        for label, path in DEEP_PATHS.items()
    ]
    return (
        cases
        + _candidate_cases()
        + _param_cases()
        + _location_cases()
        + _template_cases()
        + _yaml_tag_cases()
        + _number_cases()
    )
