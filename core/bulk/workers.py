"""Processes that check import batches: ``python -m core.bulk.workers``.

A worker imports only what checking needs (not the command line that started it), reads
pickled batches from stdin and writes the checked batches to stdout, in the order received.
It ends when its stdin closes, so it also ends when the importing process is killed.

Frames are an 8-byte big-endian length, then a pickle. The first frame to a worker is its
``CheckContext``; each answer is ``(True, CheckedBatch)`` or ``(False, traceback text)``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import struct
import sys
import traceback
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Any, BinaryIO

from core.bulk.records import FileHousehold
from core.bulk.validation import CheckContext, CheckedBatch, check_batch

_LENGTH = struct.Struct("!Q")


class WorkerFailed(RuntimeError):
    """A checking worker stopped or raised; the import stops (loaded batches stay)."""


def _frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _read_frame(stream: BinaryIO) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    return pickle.loads(stream.read(_LENGTH.unpack(head)[0]))


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.waiting: deque[asyncio.Future[CheckedBatch]] = deque()
        self.reader = asyncio.create_task(self._answers())

    async def _answers(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                head = await stdout.readexactly(_LENGTH.size)
                ok, value = pickle.loads(await stdout.readexactly(_LENGTH.unpack(head)[0]))
                future = self.waiting.popleft()
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(WorkerFailed(f"a checking worker failed:\n{value}"))
        except asyncio.IncompleteReadError:
            failure = WorkerFailed(f"a checking worker stopped (exit code {await self.process.wait()})")
            while self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_exception(failure)

    def send(self, value: Any) -> None:
        """Queue a frame without waiting for the worker to read it: a worker busy with one chunk
        must find the next ones waiting (the importer bounds how many batches are in flight)."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(_frame(value))


class CheckingPool:
    """``count`` worker processes checking batches, answers kept in submission order."""

    def __init__(self, count: int, context: CheckContext) -> None:
        self.count = count
        self.context = context
        self._workers: list[_Worker] = []
        self._sent = 0

    async def __aenter__(self) -> CheckingPool:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        for _ in range(self.count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "core.bulk.workers",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=environment,
            )
            worker = _Worker(process)
            self._workers.append(worker)
            worker.send(self.context)
        return self

    def submit(self, households: Sequence[FileHousehold]) -> asyncio.Future[CheckedBatch]:
        """Send a batch to the next worker; the future resolves to the checked batch."""
        worker = self._workers[self._sent % self.count]
        self._sent += 1
        future: asyncio.Future[CheckedBatch] = asyncio.get_running_loop().create_future()
        if worker.reader.done():  # its output ended: it will answer nothing more
            future.set_exception(WorkerFailed(f"a checking worker stopped (exit code {worker.process.returncode})"))
            return future
        worker.waiting.append(future)
        worker.send(households)
        return future

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for worker in self._workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
            if error is not None and worker.process.returncode is None:
                worker.process.kill()
        for worker in self._workers:
            await worker.process.wait()
            worker.reader.cancel()


def main() -> None:
    """Serve batches from stdin until it closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    context = _read_frame(stdin)
    if context is None:
        return
    gc.freeze()  # the region list stays for the worker's life: keep it out of collections
    gc.set_threshold(50_000, 20, 100)  # batches make many objects and no cycles
    while (households := _read_frame(stdin)) is not None:
        try:
            answer: tuple[bool, Any] = (True, check_batch(households, context))
        except Exception:
            answer = (False, traceback.format_exc())
        try:
            stdout.write(_frame(answer))
            stdout.flush()
        except BrokenPipeError:  # the importing process is gone
            return


if __name__ == "__main__":
    main()
