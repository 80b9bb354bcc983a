"""Move an exported sliced file from the source file storage to a sliced upload in the target.

Slices travel as they are: gzipped bytes are read from one store and written to the other in
pieces, several slices at a time, never merged or written to local disk, and passed on as they
came: when an upsert's records must be counted, each piece is inflated for the count only. A slice
whose length the source storage reports (S3, Azure) streams into the target piece by piece, so
memory does not grow with the table, the slice or the part size; where a store must buffer, it
holds a part (`chunk_size`) per slice in flight.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from kbc_sync.engine.slicereader import SliceReader
from kbc_sync.errors import KbcSyncError, TransferError
from kbc_sync.storage.files import open_file_store

logger = logging.getLogger(__name__)

# Every part is a request to the file store, so parts are made large enough that a slice of
# a few tens of MB goes in one to three of them. Streamed parts are never held whole; a store
# that buffers holds one per slice in flight, so four slices stay well under 100 MiB.
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
SLICE_ATTEMPTS = 3
# A streamed part cannot be resent alone, so a failed slice goes again from its start after
# this many seconds times the attempt: a store that throttles gets a moment to recover.
SLICE_RETRY_DELAY_S = 0.5
PROGRESS_INTERVAL_S = 5.0


@dataclass(frozen=True)
class TransferProgress:
    """How far a slice transfer has come; handed to the progress callback.

    Attributes:
        bytes_done: compressed bytes read from the source so far.
        bytes_total: the exported file's size in bytes, when Storage reported it.
        slices_done: slices fully written to the target.
        slices_total: slices in the export.
        elapsed_s: seconds since the transfer started reading the source manifest.
    """

    bytes_done: int
    bytes_total: int | None
    slices_done: int
    slices_total: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Bytes per second so far."""
        return self.bytes_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def __str__(self) -> str:
        done = _mb(self.bytes_done)
        if self.bytes_total:
            pct = 100.0 * self.bytes_done / self.bytes_total
            done = f"{done}/{_mb(self.bytes_total)} ({pct:.0f}%)"
        return (
            f"{done} | {self.elapsed_s:.1f} s | {_mb(self.rate)}/s"
            f" | slices {self.slices_done}/{self.slices_total}"
        )


@dataclass(frozen=True)
class TransferStats:
    """What a finished transfer moved.

    Attributes:
        file_id: id of the sliced file prepared in the target project.
        bytes: compressed bytes moved.
        slices: number of slices.
        has_rows: False when every slice decompresses to nothing (an empty export).
        seconds: wall time from reading the source manifest to writing the target manifest.
        rows: the records moved, when the transfer was asked to count them.
    """

    file_id: str
    bytes: int
    slices: int
    has_rows: bool
    seconds: float
    rows: int | None = None


@dataclass(frozen=True)
class Upload:
    """A sliced file prepared in the target project and the store to write its slices to."""

    prepared: dict[str, Any]
    store: Any

    @property
    def file_id(self) -> str:
        """The prepared file's id."""
        return str(self.prepared["id"])


def prepare_upload(target: Any, name: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Upload:
    """Create the sliced file the export's slices will go to, with a store to write them.

    Args:
        target: the target project's `StorageClient`.
        name: file name; it ends in `.gz`, which is how Storage knows the data is gzipped.
        chunk_size: bytes per multipart part.
    """
    prepared = target.prepare_file(name, sliced=True, tags=("kbc-sync",))
    # Parallelism comes from slices in flight; one part at a time per slice keeps buffering
    # stores at about `concurrency` x `chunk_size`.
    return Upload(prepared, open_file_store(prepared, chunk_size=chunk_size, concurrency=1))


def transfer_export(
    source_file: dict[str, Any],
    upload: Upload,
    *,
    concurrency: int = 4,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[TransferProgress], None] | None = None,
    count_rows: bool = False,
) -> TransferStats:
    """Copy every slice of an exported file into the prepared sliced file of the target.

    Args:
        source_file: the source file's detail, fetched with federation credentials.
        upload: the prepared target file (`prepare_upload`).
        concurrency: slices in flight at once.
        chunk_size: bytes per read from the source.
        progress: called with a `TransferProgress` at most every few seconds and at the end,
            from the transfer's worker threads.
        count_rows: also count the exported records on the way (`SliceReader`), which costs
            inflating the data; for loads whose row count Storage does not report.

    Returns:
        The moved file's id, size, slice count, and record count when asked for.

    Raises:
        TransferError: a slice could not be read or written after retries.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    source_store = open_file_store(source_file, chunk_size=chunk_size)
    meter = _Meter(_int_or_none(source_file.get("sizeBytes")), progress)

    urls = source_store.slice_urls(source_file)
    meter.slices_total = len(urls)
    names = [f"part{index:05d}.csv.gz" for index in range(len(urls))]
    found = _run_slices(source_store, upload, urls, names, meter, concurrency, count_rows)

    upload.store.write_manifest(upload.prepared, names)
    meter.report(force=True)
    counts = [rows for _, rows in found if rows is not None]
    counted = count_rows and len(counts) == len(found)
    return TransferStats(
        file_id=upload.file_id,
        bytes=meter.bytes_done,
        slices=len(urls),
        has_rows=any(has_rows for has_rows, _ in found),
        seconds=meter.elapsed(),
        rows=sum(counts) if counted else None,
    )


def _run_slices(
    source_store: Any,
    upload: Upload,
    urls: list[str],
    names: list[str],
    meter: _Meter,
    concurrency: int,
    count_rows: bool,
) -> list[tuple[bool, int | None]]:
    """Copy the slices on a thread pool; stop all of them at the first failure.

    Returns:
        Per slice: whether it holds a row, and its record count when counted.
    """
    if not urls:
        return []
    stop = threading.Event()
    copy = functools.partial(_copy_slice, meter=meter, stop=stop, count_rows=count_rows)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kbc-slice") as pool:
        futures: list[Future[tuple[bool, int | None]]] = [
            pool.submit(copy, source_store, upload, url, slice_name)
            for url, slice_name in zip(urls, names, strict=True)
        ]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [future for future in done if future.exception() is not None]
        if failed:
            stop.set()
            for future in futures:
                future.cancel()
            raise failed[0].exception()  # type: ignore[misc]
    return [future.result() for future in futures]


def _copy_slice(
    source_store: Any,
    upload: Upload,
    url: str,
    name: str,
    *,
    meter: _Meter,
    stop: threading.Event,
    count_rows: bool,
) -> tuple[bool, int | None]:
    """Stream one slice across, retrying a broken transfer from its start."""
    for attempt in range(1, SLICE_ATTEMPTS + 1):
        if stop.is_set():
            raise TransferError("Transfer stopped because another slice failed.")
        reader: SliceReader | None = None
        try:
            opened = source_store.open_slice(url)
            reader = SliceReader(opened, meter.add, stop, count_rows=count_rows)
            upload.store.upload_slice(upload.prepared, name, reader)
        except KbcSyncError as exc:
            if reader is not None:
                meter.add(-reader.count)
            if not exc.retryable or attempt == SLICE_ATTEMPTS or stop.is_set():
                raise
            delay = SLICE_RETRY_DELAY_S * attempt
            logger.warning(
                "Slice %s failed (attempt %d/%d), sending it again in %.1f s: %s",
                name,
                attempt,
                SLICE_ATTEMPTS,
                delay,
                exc,
            )
            if stop.wait(delay):
                raise TransferError("Transfer stopped because another slice failed.") from exc
            continue
        finally:
            if reader is not None:
                reader.close()
        meter.slice_done()
        return reader.has_rows, reader.rows
    raise AssertionError("unreachable")


class _Meter:
    """Thread-safe byte counter that reports progress at most every few seconds."""

    def __init__(
        self, bytes_total: int | None, callback: Callable[[TransferProgress], None] | None
    ) -> None:
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_report = self._started
        self._callback = callback
        self.bytes_total = bytes_total
        self.slices_total = 0
        self.bytes_done = 0
        self.slices_done = 0

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def add(self, count: int) -> None:
        with self._lock:
            self.bytes_done += count
        self.report()

    def slice_done(self) -> None:
        with self._lock:
            self.slices_done += 1

    def report(self, *, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_report < PROGRESS_INTERVAL_S:
                return
            self._last_report = now
            snapshot = TransferProgress(
                self.bytes_done,
                self.bytes_total,
                self.slices_done,
                self.slices_total,
                now - self._started,
            )
        if not force:
            logger.info("Transfer %s", snapshot)
        if self._callback is not None:
            try:
                self._callback(snapshot)
            except Exception:
                # A broken progress display must not fail a copy that is moving data fine.
                logger.warning("The transfer progress callback failed", exc_info=True)


def _mb(count: float) -> str:
    return f"{count / 1_000_000:.1f} MB"


def _int_or_none(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
