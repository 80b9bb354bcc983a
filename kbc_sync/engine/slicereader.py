"""The stream a file store uploads a slice from: it reads the source slice and watches it pass.

It counts the bytes for the progress meter, tells whether the slice holds a row at all, and on
request counts its records (`RowCounter`). Nothing read is kept beyond the piece handed on.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from kbc_sync.engine.rowcount import RowCounter
from kbc_sync.errors import TransferError

# Reads from the source go in pieces this large (see `SliceReader.read`).
PIECE_SIZE = 1024 * 1024
# Bytes fed to the emptiness probe at a time, so it never holds a copy of a whole piece.
PROBE_WINDOW = 64 * 1024
# zlib's window bits for "gzip header expected".
_GZIP = 16 + zlib.MAX_WBITS


class SliceReader:
    """A read-only stream over a source slice that counts bytes and sees if it holds a row.

    Whether a gzipped slice is empty cannot be told from its size, so the first bytes are fed to
    a decompressor asking for one byte of output. That costs a few hundred bytes of inflate per
    slice, not a decompression of the data. Counting records does inflate all of it.

    Args:
        stream: the source slice, as a file store opened it.
        add_bytes: called with the size of every piece read (and may be called from threads).
        stop: set when another slice failed; reading then stops.
        count_rows: count the slice's records as they pass (`rows`).
    """

    def __init__(
        self,
        stream: BinaryIO,
        add_bytes: Callable[[int], None],
        stop: threading.Event,
        *,
        count_rows: bool = False,
    ) -> None:
        self._stream = stream
        self._add_bytes = add_bytes
        self._stop = stop
        self._counter: RowCounter | None = RowCounter() if count_rows else None
        self._probe: Any = None if count_rows else zlib.decompressobj(wbits=_GZIP)
        self._found_rows = False
        # The slice's length, when its storage told it: what lets a store stream the upload.
        self.size: int | None = getattr(stream, "size", None)
        self.count = 0

    @property
    def has_rows(self) -> bool:
        """Whether the slice holds at least one row, as far as it has been read."""
        if self._counter is not None:
            return self._counter.rows > 0
        return self._found_rows

    @property
    def rows(self) -> int | None:
        """The records read so far, when counting was asked for and the slice is gzip."""
        return self._counter.rows if self._counter is not None else None

    def read(self, size: int | None = -1) -> bytes:
        """Return `size` bytes (all that is left when negative); fewer only at the end.

        The SDK takes a short read for the end of the stream, so pieces are read until the
        request is filled. Reading in pieces of `PIECE_SIZE` keeps the large buffers down to the
        one this returns: a buffer per piece is small enough for the allocator to give back.
        """
        remaining = -1 if size is None or size < 0 else size
        pieces = []
        while remaining != 0:
            if self._stop.is_set():
                raise TransferError("Transfer stopped because another slice failed.")
            piece = self._stream.read(PIECE_SIZE if remaining < 0 else min(remaining, PIECE_SIZE))
            if not piece:
                break
            self._take(piece)
            pieces.append(piece)
            remaining = remaining - len(piece) if remaining > 0 else remaining
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def _take(self, piece: bytes) -> None:
        self.count += len(piece)
        self._add_bytes(len(piece))
        if self._counter is not None:
            self._count(piece)
        elif self._probe is not None:
            self._look_for_rows(piece)

    def _count(self, piece: bytes) -> None:
        try:
            self._counter.feed(piece)  # type: ignore[union-attr]
        except zlib.error:
            # Not gzip after all: the count is unknown, and the slice is assumed to hold rows
            # rather than skip a load.
            self._counter = None
            self._found_rows = True

    def _look_for_rows(self, piece: bytes) -> None:
        try:
            data = piece[:PROBE_WINDOW]
            rest = piece[PROBE_WINDOW:]
            while data:
                if self._probe.decompress(data, 1):
                    self._found_rows = True
                    self._probe = None
                    return
                if self._probe.eof:
                    # A gzip file may hold several members; an empty one can precede data.
                    data = self._probe.unused_data
                    self._probe = zlib.decompressobj(wbits=_GZIP)
                else:
                    data = self._probe.unconsumed_tail
                if not data and rest:
                    data, rest = rest[:PROBE_WINDOW], rest[PROBE_WINDOW:]
        except zlib.error:
            # Not gzip after all: assume it holds rows rather than skip a load.
            self._found_rows = True
            self._probe = None
