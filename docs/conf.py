"""Sphinx configuration: MyST pages, API reference from docstrings, no network."""

from __future__ import annotations

import loyaltycore

project = "loyaltycore"
author = "loyaltycore developers"
release = loyaltycore.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "none"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"
# No intersphinx: the build reads no network.
suppress_warnings = ["myst.xref_missing"]
