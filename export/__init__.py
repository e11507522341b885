"""Headless publication figures (PDF/SVG/PNG) and data dumps of an Inspection.

The API is :mod:`export.figures` (``render``, ``figure_data``, ``make_figure``); the
command line is :mod:`export.cli` (``attnscope figure``). Kept import-free so that
``export.fonts`` loads without matplotlib. No Qt, no torch.
"""
