"""Length-prefixed JSON frames on dedicated pipes, shared by the gate and the worker.

Stdlib only: the worker loads this file by path before any candidate code runs.
A frame is a 4-byte big-endian length followed by that many bytes of JSON (an
object).  Requests carry ``seq`` and a random ``token``; a response must echo both.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

__all__ = ["MAX_FRAME", "FrameReader", "FrameTimeout", "ProtocolError", "pack", "read_frame", "write_frame"]

HEADER = struct.Struct(">I")
MAX_FRAME = 80 * 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed frame, or closed the pipe."""


class FrameTimeout(Exception):
    """No complete frame arrived before the deadline."""


def pack(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(data)} bytes exceeds the {MAX_FRAME}-byte limit")
    return HEADER.pack(len(data)) + data


def write_frame(fd: int, message: dict[str, Any]) -> None:
    view = memoryview(pack(message))
    while view:
        view = view[os.write(fd, view):]


def read_frame(fd: int) -> dict[str, Any]:
    """Blocking read of one frame (the worker side).  ``EOFError`` when the pipe closed."""
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds the limit")
    return _parse(_read_exact(fd, size))


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parse(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"frame is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a JSON object")
    return message


class FrameReader:
    """Reads frames from a worker with a deadline (the trusted side); never blocks past it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.closed = False

    def read(self, deadline: float) -> dict[str, Any]:
        """The next frame; ``FrameTimeout``, ``ProtocolError`` (incl. a closed pipe)."""
        while True:
            frame = self._take()
            if frame is not None:
                return frame
            if self.closed:
                raise ProtocolError("the worker closed its result pipe"
                                    + (f" after {len(self.buffer)} stray bytes" if self.buffer else ""))
            self._fill(deadline - time.monotonic())

    def pending(self) -> bool:
        """Whether bytes beyond the last frame are already waiting (a forged extra frame)."""
        if self.buffer:
            return True
        if not self.closed and select.select([self.fd], [], [], 0)[0]:
            self._fill(0)
        return bool(self.buffer)

    def _take(self) -> dict[str, Any] | None:
        if len(self.buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self.buffer)
        if size > MAX_FRAME:
            raise ProtocolError(f"oversized frame header ({size} bytes)")
        if len(self.buffer) < HEADER.size + size:
            return None
        data = bytes(self.buffer[HEADER.size:HEADER.size + size])
        del self.buffer[:HEADER.size + size]
        return _parse(data)

    def _fill(self, wait: float) -> None:
        if wait <= 0 and not select.select([self.fd], [], [], 0)[0]:
            raise FrameTimeout()
        if not select.select([self.fd], [], [], max(wait, 0))[0]:
            return
        chunk = os.read(self.fd, 1 << 20)
        if chunk:
            self.buffer += chunk
        else:
            self.closed = True
