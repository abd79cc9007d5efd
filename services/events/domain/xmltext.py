"""XML helpers shared by the CAP and Open311 renderings.

Why: ``xml.etree`` escapes ``<``, ``&`` and quotes, but happily writes control characters
that XML 1.0 forbids, producing a document no parser accepts.  Descriptions come from
phones and hotlines, so every text goes through :func:`clean` first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def clean(text: Any) -> str:
    """``text`` as a string XML 1.0 can carry (forbidden characters dropped)."""
    return _INVALID_XML.sub("", "" if text is None else str(text))


def sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    """Append ``<tag>text</tag>``; None becomes an empty element."""
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = clean(_scalar(text))
    return element


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_string(root: ET.Element) -> str:
    return DECLARATION + ET.tostring(root, encoding="unicode")
