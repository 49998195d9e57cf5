"""Job locks (core/storage/locks.py): one holder at a time, free again when the holder ends."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.locks import held_for_job


async def test_a_job_lock_has_one_holder_and_is_free_again_after_it(db: AsyncEngine) -> None:
    async with held_for_job(db, "test-job") as first:
        assert first
        async with held_for_job(db, "test-job") as second:
            assert not second, "a second holder while the first holds it"
        async with held_for_job(db, "another-job") as other:
            assert other, "locks of other names are independent"
    async with held_for_job(db, "test-job") as again:
        assert again, "free again once the first holder ended"
