"""Which of the platform's two languages a person asked for.

Every person-facing output is in zh-CN (the default: a district's staff and residents read
Chinese) or en.  A browser or app says which it prefers in ``Accept-Language``
(RFC 9110 §12.5.4: a list of language ranges with optional ``q`` weights); this picks the
first of ours it accepts most, and zh-CN when it names neither or says nothing.
"""

from __future__ import annotations

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"


def _ranges(header: str) -> list[tuple[float, int, str]]:
    """(-q, position, range) for each range in the header, best first; malformed weights
    count as 0 (ignored), as a robust server does."""
    found = []
    for position, part in enumerate(header.split(",")):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name and q > 0:
            found.append((-q, position, name.strip().lower()))
    return sorted(found)


def negotiate(header: str | None) -> str:
    """``zh-CN`` or ``en`` for an ``Accept-Language`` header (``None``: zh-CN).

    ``zh``, ``zh-CN``, ``zh-Hans``… are Chinese; ``en``, ``en-GB``… English; ``*`` is
    the default; anything else is skipped."""
    for _, _, name in _ranges(header or ""):
        primary = name.split("-", 1)[0]
        if primary == "zh" or name == "*":
            return DEFAULT
        if primary == "en":
            return "en"
    return DEFAULT
