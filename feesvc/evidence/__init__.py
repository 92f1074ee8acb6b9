"""Legal follow-up: the evidence pack (证据包) of a property-fee case and its limitation clock.

``limitation`` holds the three-year clock per billing period (pure), ``manifest`` the pack's file
list and its verification (no database), ``pack`` the build (read, analyse, render, ZIP) with one
module per section of the pack (``pack``'s docstring lists them), ``controller`` the route
``POST /api/v1/units/{id}/evidence-packs``.
"""
