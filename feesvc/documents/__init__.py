"""Printed documents: receipts, letters and statements, rendered from the Jinja2 templates in ``letters/``.

``feesvc.documents.render`` is the one way to turn a template and a plain context into HTML or PDF.
"""
