"""The model registry: each model a file in the model directory plus a ``welfare_models`` row; one is active.

A version is named ``<kind>-<UTC time to the microsecond>-<first 8 hex of the file's sha256>``. The row records the
file's sha256; a model is loaded only if its file still matches and was made for this SIKS's
feature set, so an altered or foreign file is refused before it can rank anyone. Activation
checks the file first and then switches the active flag in one transaction, so a refused
activation leaves the active model as it was. Older models stay for comparison and rollback
(activate the earlier version again).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.models import WelfareModelEntry
from core.storage.db import write_transaction
from core.welfare.errors import ModelFileError, UnknownModel
from core.welfare.features import FEATURE_NAMES, FEATURE_SET
from core.welfare.model import SUFFIX, ModelKind, WelfareModel, load_model

MODELS = WelfareModelEntry.__table__
VERSION = re.compile(r"[a-z]+-\d{8}T\d{12}-[0-9a-f]{8}")  # catboost-20261128T001401218267-72af9cc1
Written = Callable[[AsyncConnection, "ModelRecord"], Awaitable[object]]  # called inside the writing transaction
COLUMNS: tuple[str, ...] = tuple(c.name for c in MODELS.columns)


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A ``welfare_models`` row."""

    version: str
    kind: str
    file_name: str
    file_sha256: str
    feature_set: str
    features: list[str]
    parameters: dict[str, Any]
    training_source: str
    training_checksum: str
    training_rows: int
    metrics: dict[str, Any]
    author: str
    created_at: datetime
    active: bool
    activated_at: datetime | None
    activated_by: str | None

    @property
    def model_kind(self) -> ModelKind:
        return ModelKind(self.kind)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a model's training data came from."""

    source: str
    checksum: str
    rows: int


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def list_models(conn: AsyncConnection) -> list[ModelRecord]:
    """Every registered model, newest first."""
    rows = await conn.execute(select(MODELS).order_by(MODELS.c.created_at.desc(), MODELS.c.version.desc()))
    return [ModelRecord(*row) for row in rows]


async def find_model(conn: AsyncConnection, version: str) -> ModelRecord:
    """The registered model ``version``; UnknownModel for anything else (text that is no version is not looked up)."""
    row = None
    if VERSION.fullmatch(version):
        row = (await conn.execute(select(MODELS).where(MODELS.c.version == version))).first()
    if row is None:
        shown = version[:64].encode("unicode_escape").decode()
        raise UnknownModel(f"no welfare model has version '{shown}'; `siks rank list` shows the versions")
    return ModelRecord(*row)


async def active_model(conn: AsyncConnection) -> ModelRecord | None:
    row = (await conn.execute(select(MODELS).where(MODELS.c.active.is_(True)))).first()
    return ModelRecord(*row) if row else None


def model_path(model_dir: Path, record: ModelRecord) -> Path:
    return model_dir / record.file_name


def load_registered(model_dir: Path, record: ModelRecord) -> WelfareModel:
    """The model of ``record``; ModelFileError if its file is gone, altered or made for other features."""
    path = model_path(model_dir, record)
    try:
        stat = path.stat()
    except OSError:
        raise ModelFileError(
            f"the file of model {record.version} ({record.file_name}) is not in {model_dir}; restore it or "
            "set SIKS_MODEL_DIR to the directory that holds it"
        ) from None
    if record.feature_set != FEATURE_SET:
        raise ModelFileError(
            f"model {record.version} was made for feature set {record.feature_set!r}, but this SIKS uses "
            f"{FEATURE_SET!r}; train a new model"
        )
    return _load_checked(str(path), record.model_kind, record.file_sha256, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load_checked(path: str, kind: ModelKind, sha256: str, _mtime_ns: int, _size: int) -> WelfareModel:
    """Models are immutable files; the cache key changes when the file does, so a swapped file is re-checked."""
    if file_sha256(Path(path)) != sha256:
        raise ModelFileError(
            f"{Path(path).name} differs from the file registered (sha256 mismatch); restore the original file"
        )
    return load_model(kind, Path(path))


def _write_model_file(model: WelfareModel, model_dir: Path, kind: ModelKind, created: datetime) -> tuple[str, str, str]:
    """Save into a temporary file, name it by its hash, move it into place; (version, file name, sha256)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=model_dir, prefix=".training-", suffix=SUFFIX[kind])
    os.close(handle)
    try:
        model.save(Path(temporary))
        sha256 = file_sha256(Path(temporary))
        version = f"{kind.value}-{created:%Y%m%dT%H%M%S%f}-{sha256[:8]}"
        file_name = version + SUFFIX[kind]
        os.replace(temporary, model_dir / file_name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return version, file_name, sha256


async def register_model(
    engine: AsyncEngine,
    model: WelfareModel,
    *,
    model_dir: Path,
    provenance: Provenance,
    metrics: dict[str, Any],
    author: str,
    activate: bool = False,
    on_written: Written | None = None,
) -> ModelRecord:
    """Store ``model``'s file and row; it becomes active if asked, or if no model is active yet.

    ``on_written`` (the audit) runs inside the registering transaction.
    """
    created = datetime.now(UTC)
    version, file_name, sha256 = _write_model_file(model, model_dir, model.kind, created)
    load_model(model.kind, model_dir / file_name)  # the file reads back as a model of this feature set
    values = {
        "version": version,
        "kind": model.kind.value,
        "file_name": file_name,
        "file_sha256": sha256,
        "feature_set": FEATURE_SET,
        "features": list(FEATURE_NAMES),
        "parameters": model.parameters(),
        "training_source": provenance.source[:200],
        "training_checksum": provenance.checksum,
        "training_rows": provenance.rows,
        "metrics": metrics,
        "author": author[:64],
        "created_at": created,
        "active": False,
    }
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(MODELS.insert().values(**values))
            if activate or await active_model(conn) is None:
                await _switch_active(conn, version, author)
            registered = await find_model(conn, version)
            if on_written is not None:
                await on_written(conn, registered)
            return registered
    except BaseException:
        (model_dir / file_name).unlink(missing_ok=True)  # no row, no file
        raise


async def _switch_active(conn: AsyncConnection, version: str, actor: str) -> None:
    """Make ``version`` the one active model, in the caller's transaction (where the caller audits it)."""
    await conn.execute(update(MODELS).where(MODELS.c.active.is_(True)).values(active=False))
    await conn.execute(
        update(MODELS)
        .where(MODELS.c.version == version)
        .values(active=True, activated_at=datetime.now(UTC), activated_by=actor[:64])
    )


async def activate_model(
    engine: AsyncEngine,
    version: str,
    *,
    model_dir: Path,
    actor: str,
    on_written: Written | None = None,
) -> ModelRecord:
    """Make ``version`` the active model (also how to roll back: activate the earlier version).

    The file is loaded and checked first; UnknownModel or ModelFileError leave the active model unchanged.
    ``on_written`` (the audit) runs inside the switching transaction.
    """
    async with engine.connect() as conn:
        record = await find_model(conn, version)
    load_registered(model_dir, record)
    async with write_transaction(engine) as conn:
        await _switch_active(conn, version, actor)
        activated = await find_model(conn, version)
        if on_written is not None:
            await on_written(conn, activated)
        return activated


async def record_evaluation(engine: AsyncEngine, version: str, evaluation: dict[str, Any]) -> None:
    """Append an evaluation report to the model's stored metrics."""
    async with write_transaction(engine) as conn:
        record = await find_model(conn, version)
        metrics = dict(record.metrics)
        metrics["evaluations"] = [*metrics.get("evaluations", []), evaluation]
        await conn.execute(update(MODELS).where(MODELS.c.version == version).values(metrics=metrics))
