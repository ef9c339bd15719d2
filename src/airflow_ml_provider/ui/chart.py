"""A metric-by-version line chart as inline SVG, drawn on the server (no JavaScript)."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36


def _clamped(metric: str, low: float, high: float) -> tuple[float, float]:
    """The axis range kept inside what the metric can take (roc_auc never above 1.0, an
    error never below 0)."""
    from airflow_ml_provider.core.metrics import METRICS

    info = METRICS.get(metric)
    if info is not None and info.high is not None:
        high = min(high, info.high)
    if info is not None and info.low is not None:
        low = max(low, info.low)
    return low, high


def metric_chart(points: list[dict[str, Any]], metric: str) -> str:
    """``points`` = [{version, value, aliases}] in version order; the champion is marked."""
    if not points:
        return f'<p class="muted">No registered version has a recorded {escape(metric)} yet.</p>'
    values = [p["value"] for p in points]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.05 or 0.05
    low, high = _clamped(metric, low - pad, high + pad)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (inner_w * i / (len(points) - 1) if len(points) > 1 else inner_w / 2)

    def y(value: float) -> float:
        return TOP + inner_h * (high - value) / (high - low)

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" aria-label="{escape(metric)} by model version">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + inner_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}"/>',
    ]
    for k in range(5):
        value = low + (high - low) * k / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y(value):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{value:.4g}</text>'
        )
    line = " ".join(f"{x(i):.1f},{y(p['value']):.1f}" for i, p in enumerate(points))
    parts.append(f'<polyline class="series" points="{line}"/>')
    step = max(1, len(points) // 12)
    for i, point in enumerate(points):
        champion = "champion" in point["aliases"]
        label = f"v{point['version']}: {metric} = {point['value']:.4f}"
        label += " (champion)" if champion else ""
        parts.append(
            f'<circle class="point{" champion" if champion else ""}" cx="{x(i):.1f}" '
            f'cy="{y(point["value"]):.1f}" r="{6 if champion else 4}" '
            f'data-version="{point["version"]}" data-value="{point["value"]:.6g}">'
            f"<title>{escape(label)}</title></circle>"
        )
        if i % step == 0 or champion or i == len(points) - 1:
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" '
                f'text-anchor="middle">v{point["version"]}</text>'
            )
    parts.append(
        f'<text class="label" x="{LEFT}" y="{HEIGHT - 4}">model version</text>'
        f'<text class="label" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">'
        f"{escape(metric)}</text></svg>"
    )
    return "".join(parts)
