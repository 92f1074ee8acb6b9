"""Owners sign in without the command line: invitations, one-time codes by SMS, short-lived access
tokens with rotating refresh tokens, and the HTML sign-in pages under ``/owner/``."""
