"""Count the CSV records of a gzipped slice as its bytes stream past, without keeping any.

Storage reports no row count for an incremental load into a table with a primary key (updated
rows leave `rowsCount` as it was), so for those copies the slices are counted on the way. The
data is inflated piece by piece and dropped at once; only the count and whether the scan is
inside a quoted value are kept. A record ends at a newline outside quotes (RFC 4180): an escaped
quote `""` does not change that state, so the parity of `"` on each line tells it exactly.
"""

from __future__ import annotations

import zlib

# Inflated bytes produced per step, so a highly compressed piece cannot expand in memory.
_OUTPUT_STEP = 1024 * 1024
# zlib's window bits for "gzip header expected".
_GZIP = 16 + zlib.MAX_WBITS


class RowCounter:
    """Counts the records of one gzipped CSV slice fed to it in pieces.

    Raises:
        zlib.error: from `feed`, when the bytes are not gzip.
    """

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=_GZIP)
        self._records = 0
        self._quoted = False
        self._open = False

    def feed(self, piece: bytes) -> None:
        """Take the next compressed bytes of the slice."""
        data = piece
        while True:
            text = self._inflate.decompress(data, _OUTPUT_STEP)
            self._scan(text)
            if self._inflate.eof:
                # A gzip file may hold several members, one after the other.
                data = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=_GZIP)
                if not data:
                    return
            else:
                # Input may be left over, or output held back by the step: go on until neither.
                data = self._inflate.unconsumed_tail
                if not data and not text:
                    return

    @property
    def rows(self) -> int:
        """Records seen so far; a last record without a closing newline counts too."""
        return self._records + (1 if self._open else 0)

    def _scan(self, text: bytes) -> None:
        if not text:
            return
        lines = text.split(b"\n")
        odd = [line.count(b'"') & 1 for line in lines]
        if not self._quoted and not any(odd[:-1]):
            # The common case: no value holds a newline, so every newline ends a record.
            self._records += len(lines) - 1
            self._quoted = bool(odd[-1])
        else:
            for flips in odd[:-1]:
                self._quoted ^= bool(flips)
                if not self._quoted:
                    self._records += 1
            self._quoted ^= bool(odd[-1])
        self._open = bool(lines[-1]) or (self._open and len(lines) == 1)
