"""Photo storage: a folder by default, behind an interface an object store can implement.

Keys are relative paths such as ``originals/32.01.01.1001/<visit>/roof-<token>.jpg``. Writes go to
a temporary name first and are renamed when complete, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

import aiofiles
import aiofiles.os

CHUNK = 64 * 1024


class PhotoStore(Protocol):
    """Where photo files live. An object store (S3, GCS, MinIO) implements the same four calls."""

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Store the chunks under ``key``; an exception while reading them leaves nothing stored."""

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes of ``key``, in chunks."""

    async def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""

    async def exists(self, key: str) -> bool: ...


class FolderStore:
    """Photos as files under one folder (``SIKS_PHOTO_DIR``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or ".." in Path(key).parts:
            raise ValueError(f"photo key {key!r} leaves the photo folder")
        return path

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        path = self._path(key)
        await aiofiles.os.makedirs(path.parent, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            async with aiofiles.open(partial, "wb") as handle:
                async for chunk in chunks:
                    await handle.write(chunk)
            await aiofiles.os.replace(partial, path)
        except BaseException:
            if await aiofiles.os.path.exists(partial):
                await aiofiles.os.remove(partial)
            raise

    async def read(self, key: str) -> AsyncIterator[bytes]:
        async with aiofiles.open(self._path(key), "rb") as handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self._path(key)
        if await aiofiles.os.path.exists(path):
            await aiofiles.os.remove(path)

    async def exists(self, key: str) -> bool:
        return bool(await aiofiles.os.path.exists(self._path(key)))


async def read_all(store: PhotoStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(key)])


def folder_store(root: Path) -> FolderStore:
    os.makedirs(root, exist_ok=True)
    return FolderStore(root)
