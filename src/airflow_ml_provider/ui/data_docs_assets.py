"""Data Docs without the internet: the CDN scripts and styles Great Expectations' pages
load, served from the plugin's own copies (``static/datadocs``, see its README).

The stored Data Docs stay as Great Expectations wrote them; ``offline_page`` rewrites a
page as the plugin serves it, and ``DATA_DOCS_CSP`` tells the browser to load nothing from
anywhere else (so a CDN reference a newer Great Expectations adds fails visibly in the
browser's console instead of quietly reaching out).
"""

from __future__ import annotations

from pathlib import Path

ASSETS_FOLDER = Path(__file__).parent / "static" / "datadocs"
ASSETS_ROUTE = "/static/datadocs"

CDN_ASSETS = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper-1.12.9.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control-1.19.1.min.js",
    # GX names 1.19.0 for the filter control's styles; 1.19.1's are the same rules.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": "bootstrap-table-filter-control-1.19.1.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker-1.9.0.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker-1.9.0.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "bootstrap-prefers-dark-1.1.0.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "css/fontawesome-6.6.0.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0.min.js",
}
"""Each CDN URL of Great Expectations 1.x's page templates -> its copy here."""

DATA_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:"
)
"""Scripts, styles, images and fonts from this server only (GX's pages have inline scripts
and styles; vega compiles chart expressions with eval)."""


def offline_page(html: str, assets_url: str) -> str:
    """``html`` with every known CDN URL pointing at ``assets_url`` (the plugin's route);
    longest URLs first, so no URL is rewritten inside a longer one."""
    for cdn in sorted(CDN_ASSETS, key=len, reverse=True):
        html = html.replace(f'"{cdn}"', f'"{assets_url}/{CDN_ASSETS[cdn]}"')
    return html


def asset_file(name: str) -> Path | None:
    """The vendored file ``name`` (a path under static/datadocs), or None."""
    folder = ASSETS_FOLDER.resolve()
    file = (folder / name).resolve()
    return file if file.is_relative_to(folder) and file.is_file() else None
