"""QR codes for printed documents (a letter's link to the owner's pages), made here by segno: a
pure-Python QR encoder (ISO/IEC 18004) that needs no network and no image library."""

from __future__ import annotations

from functools import lru_cache

import segno


@lru_cache(maxsize=64)
def qr_svg_data_uri(text: str) -> str:
    """``text`` as a QR code in an SVG ``data:`` URI, for an ``<img>`` WeasyPrint draws as vector
    paths (sharp at any print resolution). Error correction M (15 %: survives a crease)."""
    return str(segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=4, dark="#000"))
