"""A backup's ``manifest.json``: what it holds (database kind, versions, row counts) and every file's SHA-256.

The manifest lists every file of the backup by its path relative to the backup folder, so a restore can
check the whole backup — database dump, photos, model files — before it changes anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 20


class BackupRefused(Exception):
    """A backup or restore that cannot go ahead; nothing was changed. The message says why."""


@dataclass(frozen=True)
class Manifest:
    format: int
    siks_version: str
    created_at: str
    database: str  # "sqlite" or "postgresql"
    schema: str | None  # PostgreSQL: the schema that was dumped
    alembic_revisions: list[str]
    row_counts: dict[str, int]
    audit_head: int
    files: dict[str, str] = field(default_factory=dict)  # relative path → sha256

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise BackupRefused(f"{folder} is not a SIKS backup: it has no {MANIFEST}")
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise BackupRefused(f"{path} is not a valid SIKS backup manifest ({exc})") from None
        if manifest.format != FORMAT:
            raise BackupRefused(f"{path} has format {manifest.format}; this SIKS reads format {FORMAT}")
        if manifest.database not in ("sqlite", "postgresql"):
            raise BackupRefused(f"{path} names database kind {manifest.database!r}, neither sqlite nor postgresql")
        return manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_under(folder: Path) -> list[Path]:
    """Every regular file below ``folder`` (none if it does not exist), in a stable order."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*") if path.is_file())


def checksums(root: Path, parts: list[str]) -> dict[str, str]:
    """SHA-256 of every file below ``root / part`` for each part, by path relative to ``root``."""
    return {path.relative_to(root).as_posix(): sha256_of(path) for part in parts for path in files_under(root / part)}


def checksum_problems(root: Path, manifest: Manifest) -> list[str]:
    """What does not match the manifest: missing, changed or unlisted files below ``root``."""
    problems = []
    for name, expected in sorted(manifest.files.items()):
        path = root / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            problems.append(f"{name}: a path outside the backup")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_of(path) != expected:
            problems.append(f"{name}: checksum differs (the file is corrupt or was changed)")
    listed = set(manifest.files) | {MANIFEST}
    for path in files_under(root):
        name = path.relative_to(root).as_posix()
        if name not in listed:
            problems.append(f"{name}: not in the manifest")
    return problems
