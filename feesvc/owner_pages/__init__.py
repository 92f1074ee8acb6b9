"""The owner's own pages under ``/owner/``: server-rendered, mobile-first HTML with the package's
own stylesheet (no script framework, nothing from a CDN).

What each page shows comes from the services the API uses (statements, payoff, payments,
letters, complaints), read as the signed-in owner: an owner sees only their own account's
periods. The session is the ``feesvc_session`` cookie (``feesvc.auth.middleware``); forms carry a
token bound to it (``forms``).
"""
