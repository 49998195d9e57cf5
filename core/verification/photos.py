"""Visit photos (roof, floor, wall, ID card, house front): streamed to storage, checked, and kept twice.

The upload is read in chunks and written to storage as it arrives, with its size counted and its
sha256 computed on the way; more than the limit stops the stream and keeps nothing. The content
decides the type, whatever the file name says: the first bytes must be JPEG, PNG or WebP, a
declared type or extension that says otherwise is refused as a lie, and the whole file must
decode as that image. Officers get the original; everyone else gets a copy re-encoded without
any metadata (EXIF with its GPS position, XMP, comments), oriented as the camera meant.

``keep_checked`` is that check and storage for any photo; ``store_photo`` records a visit's, and
``attach_to_proposal`` a photo a citizen sent with a usul (``core.dataku.usul``), of which only the
copy without metadata is kept: a phone's GPS position is the citizen's, not for an office to collect
by accident.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import secrets
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, make_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import PurePath
from typing import Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo, record
from core.foundation.enums import PhotoKind
from core.foundation.ids import ids
from core.foundation.refusals import FieldError, Invalid, Missing
from core.models import VisitPhoto
from core.regions.codes import within
from core.verification.storage import CHUNK, PhotoStore, read_all
from core.verification.visits import visit_by_id

PHOTOS = VisitPhoto.__table__
PhotoRecord: Any = make_dataclass("PhotoRecord", [(c.name, Any) for c in PHOTOS.columns], slots=True)
MAX_PIXELS = 50_000_000  # larger images are refused (decompression bombs)

#: content type → (Pillow format, file extension, magic test)
FORMATS: dict[str, tuple[str, str]] = {
    "image/jpeg": ("JPEG", "jpg"),
    "image/png": ("PNG", "png"),
    "image/webp": ("WEBP", "webp"),
}
EXTENSIONS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}


class PhotoSource(Protocol):
    """An uploaded file being received (starlette's UploadFile, an open file, bytes in memory)."""

    async def read(self, size: int = -1) -> bytes: ...


class BytesSource:
    """A photo already in memory (from an offline package) as a PhotoSource."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def sniff(head: bytes) -> str | None:
    """The image type the first bytes announce: JPEG, PNG or WebP; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def claimed_type(filename: str | None, declared: str | None) -> list[str]:
    """The image types the upload claims by its declared content type and its file extension."""
    claims = []
    if declared and declared.lower().split(";")[0].strip() in FORMATS:
        claims.append(declared.lower().split(";")[0].strip())
    if filename and PurePath(filename).suffix.lower() in EXTENSIONS:
        claims.append(EXTENSIONS[PurePath(filename).suffix.lower()])
    return claims


class TooLarge(Exception):
    pass


class PhotoProblem(StrEnum):
    """Why a photo was refused (each caller words it: the API in English, the pages from the catalogs)."""

    NOT_AN_IMAGE = "not_an_image"
    CLAIM_MISMATCH = "claim_mismatch"
    TOO_LARGE = "too_large"
    NOT_DECODED = "not_decoded"


@dataclass(frozen=True, slots=True)
class PhotoRefused:
    """A refused photo: the problem, its English message, the values it names (``claimed``, ``actual``, ``limit``)."""

    problem: PhotoProblem
    message: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeptPhoto:
    """A checked photo in storage, not yet recorded: its type, the size and sha256 as it arrived, its two keys."""

    content_type: str
    size: int
    sha256: str
    original_key: str
    public_key: str


@dataclass(slots=True)
class _Counted:
    """Chunks of the upload as they arrive, counted and hashed; over ``limit`` bytes raises TooLarge."""

    source: PhotoSource
    first: bytes
    limit: int
    size: int = 0
    digest: Any = None

    async def chunks(self) -> AsyncIterator[bytes]:
        self.digest = hashlib.sha256()
        chunk = self.first
        while chunk:
            self.size += len(chunk)
            if self.size > self.limit:
                raise TooLarge
            self.digest.update(chunk)
            yield chunk
            chunk = await self.source.read(CHUNK)


def _decode_and_strip(data: bytes, content_type: str) -> bytes:
    """Check that ``data`` decodes as ``content_type``; a copy without metadata (ValueError if it does not decode)."""
    pillow_format, _extension = FORMATS[content_type]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise ValueError(f"the image has more than {MAX_PIXELS:,} pixels")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
                if pillow_format == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
                    upright = upright.convert("RGB")
                out = io.BytesIO()
                options: dict[str, Any] = {"quality": 90} if pillow_format in ("JPEG", "WEBP") else {}
                upright.save(out, format=pillow_format, **options)  # no exif=, icc_profile= or pnginfo=: nothing kept
                return out.getvalue()
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            Image.DecompressionBombWarning,
            Image.DecompressionBombError,
        ) as exc:
            raise ValueError(f"the file is not a complete {NAMES[content_type]} image ({exc})") from None


async def photo_by_id(conn: AsyncConnection, photo_id: int, scope: str = "") -> Any:
    query = select(PHOTOS).where(PHOTOS.c.id == photo_id)
    if scope:
        query = query.where(within(PHOTOS.c.village_code, scope))
    row = (await conn.execute(query)).first()
    return PhotoRecord(*row) if row else None


async def photos_by_id(conn: AsyncConnection, photo_ids: Sequence[int], scope: str = "") -> dict[int, Any]:
    """Photos by id whose village lies in ``scope``; one statement."""
    if not photo_ids:
        return {}
    query = select(PHOTOS).where(PHOTOS.c.id.in_(list(set(photo_ids))))
    if scope:
        query = query.where(within(PHOTOS.c.village_code, scope))
    return {row.id: PhotoRecord(*row) for row in await conn.execute(query)}


async def photos_of_visits(conn: AsyncConnection, visit_ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {visit_id: [] for visit_id in visit_ids}
    if visit_ids:
        rows = await conn.execute(select(PHOTOS).where(PHOTOS.c.visit_id.in_(visit_ids)).order_by(PHOTOS.c.kind))
        for row in rows:
            found[row.visit_id].append(PhotoRecord(*row))
    return found


async def photos_of_proposals(conn: AsyncConnection, proposal_ids: list[int]) -> dict[int, list[Any]]:
    """The photos sent with each proposal (a citizen's usul), by proposal id; one statement."""
    found: dict[int, list[Any]] = {proposal_id: [] for proposal_id in proposal_ids}
    if proposal_ids:
        query = select(PHOTOS).where(PHOTOS.c.proposal_id.in_(proposal_ids)).order_by(PHOTOS.c.kind, PHOTOS.c.id)
        for row in await conn.execute(query):
            found[row.proposal_id].append(PhotoRecord(*row))
    return found


def _invalid(message: str) -> Invalid:
    return Invalid([FieldError("file", message)])


async def keep_checked(
    store: PhotoStore,
    source: PhotoSource,
    *,
    folder: str,
    name: str,
    filename: str | None,
    declared_type: str | None,
    max_bytes: int,
    sha256: str | None = None,
    keep_original: bool = True,
) -> KeptPhoto | PhotoRefused:
    """Check a photo as it streams to storage under ``originals/{folder}/{name}-…`` and ``public/…``.

    The content decides its type; a refused photo leaves nothing in storage. ``sha256``, when given
    (an offline package), must match what arrives. Without ``keep_original`` only the copy without
    metadata stays (both keys name it).
    """
    first = await source.read(CHUNK)
    content_type = sniff(first[:12])
    if content_type is None:
        message = "the file is not a JPEG, PNG or WebP image (its first bytes say otherwise)"
        return PhotoRefused(PhotoProblem.NOT_AN_IMAGE, message)
    lies = [c for c in claimed_type(filename, declared_type) if c != content_type]
    if lies:
        claimed, actual = NAMES[lies[0]], NAMES[content_type]
        message = f"the file claims to be {claimed} but its content is {actual}"
        return PhotoRefused(PhotoProblem.CLAIM_MISMATCH, message, {"claimed": claimed, "actual": actual})
    token = secrets.token_hex(6)
    extension = FORMATS[content_type][1]
    original_key, public_key = (f"{copy}/{folder}/{name}-{token}.{extension}" for copy in ("originals", "public"))
    counted = _Counted(source, first, max_bytes)
    try:
        await store.write(original_key, counted.chunks())
    except TooLarge:
        message = f"the photo is larger than the limit of {max_bytes:,} bytes"
        return PhotoRefused(PhotoProblem.TOO_LARGE, message, {"limit": max_bytes})
    digest = counted.digest.hexdigest()
    try:
        if sha256 is not None and sha256.lower() != digest:
            raise ValueError(f"the photo's checksum is {digest}, not the {sha256[:64]} it came with")
        stripped = await asyncio.to_thread(_decode_and_strip, await read_all(store, original_key), content_type)
    except ValueError as exc:
        await store.delete(original_key)
        return PhotoRefused(PhotoProblem.NOT_DECODED, str(exc))

    async def once() -> AsyncIterator[bytes]:
        yield stripped

    await store.write(public_key, once())
    if not keep_original:
        await store.delete(original_key)
        original_key = public_key
    return KeptPhoto(content_type, counted.size, digest, original_key, public_key)


async def store_photo(
    conn: AsyncConnection,
    store: PhotoStore,
    request: RequestInfo,
    visit_id: int,
    kind: PhotoKind,
    source: PhotoSource,
    *,
    filename: str | None,
    declared_type: str | None,
    max_bytes: int,
    sha256: str | None = None,
) -> Any:
    """Store one photo of a visit in the caller's region; PhotoRecord, Invalid or Missing.

    ``sha256``, when given (an offline package), must match what arrives.
    """
    visit = await visit_by_id(conn, visit_id, request.principal.scope)
    if visit is None:
        return Missing("visit", str(visit_id))
    taken = select(PHOTOS.c.id).where(PHOTOS.c.visit_id == visit_id, PHOTOS.c.kind == kind.value)
    if (await conn.execute(taken)).first() is not None:
        return Invalid([FieldError("kind", f"visit {visit_id} already has a {kind.value.replace('_', ' ')} photo")])
    kept = await keep_checked(
        store,
        source,
        folder=f"{visit.village_code}/{visit_id}",
        name=kind.value,
        filename=filename,
        declared_type=declared_type,
        max_bytes=max_bytes,
        sha256=sha256,
    )
    if isinstance(kept, PhotoRefused):
        return _invalid(kept.message)
    photo_id = await _insert(conn, request, kept, kind, visit.household_id, visit.village_code, visit_id=visit_id)
    await record(
        conn,
        request,
        operation="uploadVisitPhoto",
        entity="visit_photo",
        entity_id=photo_id,
        after={"visit": visit_id, "kind": kind.value, "sha256": kept.sha256, "size": kept.size},
    )
    return await photo_by_id(conn, photo_id)


async def attach_to_proposal(
    conn: AsyncConnection, request: RequestInfo, proposal: Any, kind: PhotoKind, kept: KeptPhoto
) -> Any:
    """Record a checked photo as sent with ``proposal`` (a citizen's usul), audited; its PhotoRecord."""
    photo_id = await _insert(
        conn, request, kept, kind, proposal.household_id, proposal.village_code, proposal_id=proposal.id
    )
    await record(
        conn,
        request,
        operation="attachProposalPhoto",
        entity="visit_photo",
        entity_id=photo_id,
        after={"proposal": proposal.id, "kind": kind.value, "sha256": kept.sha256, "size": kept.size},
    )
    return await photo_by_id(conn, photo_id)


async def _insert(
    conn: AsyncConnection,
    request: RequestInfo,
    kept: KeptPhoto,
    kind: PhotoKind,
    household_id: int,
    village_code: str,
    *,
    visit_id: int | None = None,
    proposal_id: int | None = None,
) -> int:
    photo_id = ids.next_id()
    await conn.execute(
        insert(PHOTOS).values(
            id=photo_id,
            visit_id=visit_id,
            proposal_id=proposal_id,
            household_id=household_id,
            village_code=village_code,
            kind=kind.value,
            content_type=kept.content_type,
            size=kept.size,
            sha256=kept.sha256,
            original_key=kept.original_key,
            public_key=kept.public_key,
            uploaded_by=request.principal.username[:64],
            uploaded_at=datetime.now(UTC),
        )
    )
    return photo_id


async def discard_files(store: PhotoStore, photo: Any) -> None:
    """Remove a photo's files (a KeptPhoto or a PhotoRecord whose transaction did not commit)."""
    await store.delete(photo.original_key)
    await store.delete(photo.public_key)
