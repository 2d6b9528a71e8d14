"""FileDownload's block source: the page cache without a thread hop, the disk in a worker thread, same bytes."""

import asyncio
import os

import pytest

from core.downloads import RWF_NOWAIT, FileDownload, LimitedReader

MIB = 1024 * 1024


def evict_from_page_cache(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


async def collect(response):
    return b"".join([block async for block in response])


@pytest.mark.parametrize("start,length", [(0, 3 * MIB + 123), (10, 2 * MIB), (MIB + 1, 5), (7, 0)])
def test_cached_and_disk_reads_give_the_requested_bytes(tmp_path, start, length):
    content = os.urandom(3 * MIB + 123)
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    file = open(path, "rb")
    file.seek(start)
    reader = LimitedReader(file, length)
    first = reader.read_cached(MIB)
    if RWF_NOWAIT is not None:  # Linux: a freshly written file is in the page cache
        assert first == content[start:start + min(MIB, length)]
    else:
        assert first in (None, b"")  # no RWF_NOWAIT: every block from a thread
    evict_from_page_cache(path)  # the rest comes from the disk (read_cached answers None, or less)
    rest = asyncio.run(collect(FileDownload(reader)))
    assert (first or b"") + rest == content[start:start + length]
    assert reader.read_cached(MIB) == b"" and reader.read(MIB) == b""
    file.close()
