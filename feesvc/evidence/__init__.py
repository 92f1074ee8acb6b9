"""Legal follow-up: the evidence pack (证据包) of a property-fee case and its limitation clock.

``limitation`` holds the three-year clock per billing period (pure), ``manifest`` the pack's file
list and its verification (no database), ``pack`` what is read, computed and rendered into the ZIP,
``controller`` the route ``POST /api/v1/units/{id}/evidence-packs``.
"""
