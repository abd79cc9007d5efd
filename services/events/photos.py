"""Photos of cases: uploaded before the case (the app sends them while the worker types),
stored once by SHA-256, referenced by hash from cases (P6.2: collect once, share many times).

Only JPEG/PNG/WebP whose bytes say so are stored (see ``domain.media``).  Staff read a photo
through a case they may see (a department's officer: a case its department handles, whose
result photos arrive by ``dispatch.case.photos_attached``); the public reads one only when
a public case shows it (P5.4.4: nothing of a private case leaks).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import BadRequest, NotFound, UnsupportedMediaType
from gridgov_common.kernel.roles import ScopeLevel
from services.events import catalogue_store
from services.events.domain import media
from services.events.models import cases, photos
from services.events.visibility import public_conditions, staff_conditions


def store(session: Session, data: bytes, declared_type: str | None,
          uploaded_by: str) -> dict[str, Any]:
    """Store the photo (once per content) and return its hash, type and size."""
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in media.ALLOWED_TYPES:
        raise UnsupportedMediaType(
            f"send a photo as one of {', '.join(media.ALLOWED_TYPES)}",
            fields={"Content-Type": [declared or "missing"]})
    if not data:
        raise BadRequest("the photo is empty", code="empty_body")
    actual = media.sniff(data)
    if actual != declared:
        raise UnsupportedMediaType(
            f"the body is not a {declared} image", code="content_mismatch",
            fields={"Content-Type": [f"declared {declared}, content is {actual or 'unknown'}"]})
    digest = media.sha256_hex(data)
    session.execute(pg.insert(photos).values(
        sha256=digest, content_type=actual, size=len(data), bytes=data,
        uploaded_by=uploaded_by).on_conflict_do_nothing(index_elements=[photos.c.sha256]))
    return {"sha256": digest, "content_type": actual, "size": len(data)}


def _load(session: Session, digest: str) -> tuple[bytes, str]:
    row = session.execute(sa.select(photos.c.bytes, photos.c.content_type)
                          .where(photos.c.sha256 == digest)).first()
    if row is None:
        raise NotFound("no such photo")
    return bytes(row.bytes), row.content_type


def for_staff(session: Session, principal: Principal, digest: str) -> tuple[bytes, str]:
    """A photo its uploader, or anyone who may see a case showing it, may read (a
    sensitive case's photos only those who may see it, P5.2.5)."""
    uploader = session.execute(sa.select(photos.c.uploaded_by)
                               .where(photos.c.sha256 == digest)).scalar()
    if uploader is None:
        raise NotFound("no such photo")
    if uploader != principal.sub and not _shown_to(session, principal, digest):
        raise NotFound("no such photo")  # not 403: do not confirm that it exists
    return _load(session, digest)


def _shown_to(session: Session, principal: Principal, digest: str) -> bool:
    """Whether a case ``principal`` may see shows the photo: grid staff by the case's grid
    (a sensitive case's only if they may see those, P5.2.5), a department's officer by
    its department being responsible for the case (P2.2; as events knows from dispatch)."""
    showing = cases.c.photos.contains([digest])
    if principal.scope_level == ScopeLevel.DEPARTMENT:
        return session.execute(sa.select(sa.literal(1)).where(
            showing, cases.c.departments.contains([principal.scope_code])).limit(1)
        ).first() is not None
    hidden = staff_conditions(principal, catalogue_store.current(session))  # P5.2.5
    grids = session.execute(sa.select(cases.c.grid_code).where(showing, *hidden)).scalars()
    return any(principal.covers(grid) for grid in grids)


def for_public(session: Session, digest: str) -> tuple[bytes, str]:
    """A photo shown by at least one public case (Open311 ``media_url``)."""
    shown = session.execute(sa.select(sa.literal(1)).where(
        cases.c.photos.contains([digest]),
        *public_conditions(catalogue_store.current(session))).limit(1)).first()
    if shown is None:
        raise NotFound("no such photo")
    return _load(session, digest)


def purge_unattached(session: Session, older_than: timedelta, now: datetime,
                     limit: int = 500) -> int:
    """Delete photos no case shows, uploaded more than ``older_than`` ago; how many.

    An upload the worker never attached to a case (a report abandoned in the app) would
    otherwise be kept for ever, and a photo may show people (P5.4.4: keep no personal
    data without a purpose). The age leaves the app time to file the case after
    uploading; the GIN index on ``cases.photos`` answers the containment test."""
    shown = sa.exists().where(cases.c.photos.contains(sa.func.jsonb_build_array(photos.c.sha256)))
    doomed = (sa.select(photos.c.sha256)
              .where(photos.c.created_at < now - older_than, ~shown)
              .limit(limit).with_for_update(skip_locked=True))
    return session.execute(sa.delete(photos).where(photos.c.sha256.in_(doomed.scalar_subquery()))
                           ).rowcount
