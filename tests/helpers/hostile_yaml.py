"""YAML that used to crash the loader (and so cost the folder every DAG); each must be
one positioned error."""

from __future__ import annotations

from helpers.paths import EXAMPLE_YAML


def _bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join([*lines, "pipeline: *a9"]) + "\n"  # 9**10 values if expanded


def _example(old: str, new: str) -> str:
    text = EXAMPLE_YAML.read_text()
    assert old in text
    return text.replace(old, new)


CRASHERS = {
    "timestamp": (
        _example("start_date: 2026-01-01", "start_date: 2026-01-01T25:99:00"),
        ":6:13: start_date: cannot read '2026-01-01T25:99:00': hour must be in 0..23",
    ),
    "duration": (
        _example("retry_delay: 5m", "retry_delay: 99999999999999999999d"),
        ":9:14: retry_delay: '99999999999999999999d' is too long a duration",
    ),
    "deep_lists": ("pipeline: x\ndata: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 40"),
    "deep_mappings": (
        "pipeline: x\ndata:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(300)),
        "nested more than 40 levels deep",
    ),
    "alias_bomb": (_bomb(), "the file expands to more than 20,000 values"),
    "huge": ("pipeline: x\n" + "#" * 2_000_000 + "\n", ":1:1: the file is 2,000,013 bytes"),
}
