"""The batch writer's journal: where rows wait on disk while the database cannot take them.

Each writer process has one file, `gatewayz-journal-<database>-<writer>.jsonl`, in the
journal directory (beside the SQLite file by default, else `./gatewayz-journal/`), locked
(flock) for as long as the process lives. Each line is one JSON object:

- a batch: `{"ref": k, "writer": w, "seq": n, "created": t, "rows": [...]}`, with
  `"part_of": j` when it is a part of batch j split in two;
- `{"done": k}`: batch k was written, or found written, or its rows set aside;
- `{"split": k}`: batch k was split into the parts on the lines just before this one. The
  parts count only once this line is there, so a split cut short by a crash is redone.

A process that starts adopts every unlocked journal of its database and replays it before
it serves. Rows the database refuses go to `gatewayz-dead-letter-<database>.jsonl` beside
the journals. Both are readable by their owner only. All methods do blocking file I/O: call
them from a worker thread.
"""

import fcntl
import hashlib
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy.engine import make_url

_PREFIX = "gatewayz-journal-"


@dataclass(frozen=True, slots=True)
class JournalPlace:
    """Where the journal files of one database are: a directory, and the database's name in
    their file names."""

    directory: Path
    namespace: str


@dataclass(frozen=True, slots=True)
class Entry:
    """Where one batch waiting in a journal file is."""

    ref: int
    offset: int
    length: int
    rows: int


def journal_location(database_url: str, configured: Path | None) -> JournalPlace:
    """The journal directory (`configured`, else beside the SQLite file, else
    `./gatewayz-journal`) and the name of the database its files are for: a short hash of
    the SQLite file's absolute path, or of the URL without its password."""
    url = make_url(database_url)
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if sqlite_file:
        path = Path(str(url.database)).resolve()
        identity, default = str(path), path.parent
    else:
        identity = url.set(drivername=url.get_backend_name(), password=None).render_as_string()
        default = Path("gatewayz-journal")
    namespace = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return JournalPlace(configured if configured is not None else default, namespace)


def journal_files(directory: Path, namespace: str) -> tuple[list[Path], list[Path]]:
    """The journal files of this database (oldest first), and those of other databases."""
    if not directory.is_dir():
        return [], []
    found = sorted(directory.glob(f"{_PREFIX}*.jsonl"), key=lambda p: p.stat().st_mtime)
    ours = [path for path in found if path.name.startswith(f"{_PREFIX}{namespace}-")]
    return ours, [path for path in found if path not in ours]


class JournalFile:
    """One process's journal file, locked while it is open."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._file = handle
        self._pending: deque[Entry] = deque()
        self.pending_rows = 0  # rows of the batches still to read back
        self.unreadable: list[bytes] = []
        self.max_seq = 0  # the highest batch number in the file
        self._open: set[int] = set()  # batches neither done nor split
        self._next_ref = 0
        self._size = os.fstat(handle.fileno()).st_size

    @classmethod
    def create(cls, directory: Path, namespace: str, writer: str) -> "JournalFile":
        """A new, empty, locked journal for `writer` (named only once it is locked, so no
        other process can adopt it meanwhile)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{_PREFIX}{namespace}-{writer}.jsonl"
        staging = directory / f".{path.name}.new"
        fd = os.open(staging, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "a+b")  # kept open: it holds the lock
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(staging, path)
        _sync_directory(directory)
        return cls(path, handle)

    @classmethod
    def adopt(cls, path: Path) -> "JournalFile | None":
        """The journal of a process that is gone, scanned; None if its process still holds
        it (or another process adopted it first)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return None
        handle = os.fdopen(fd, "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:  # removed and made again
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            handle.close()
            return None
        journal = cls(path, handle)
        journal._scan()
        return journal

    @property
    def finished(self) -> bool:
        """Whether every batch in the file is done (or split into parts that are)."""
        return not self._open

    def take(self) -> Entry | None:
        """The next batch to read back, in file order."""
        if not self._pending:
            return None
        entry = self._pending.popleft()
        self.pending_rows -= entry.rows
        return entry

    def claim(self, ref: int) -> None:
        """Batch `ref` is being written already: it is not to be read back."""
        for entry in [entry for entry in self._pending if entry.ref == ref]:
            self._pending.remove(entry)
            self.pending_rows -= entry.rows

    def append(self, batches: list[dict[str, Any]]) -> list[int]:
        """Write batches at the end and make them durable; returns their refs."""
        refs = list(range(self._next_ref, self._next_ref + len(batches)))
        self._next_ref += len(batches)
        self._write([{"ref": ref, **batch} for ref, batch in zip(refs, batches, strict=True)])
        return refs

    def split(self, ref: int, parts: list[dict[str, Any]]) -> list[int]:
        """Replace batch `ref` by `parts`, which wait at the end; returns their refs."""
        refs = list(range(self._next_ref, self._next_ref + len(parts)))
        self._next_ref += len(parts)
        lines = [{"ref": r, "part_of": ref, **part} for r, part in zip(refs, parts, strict=True)]
        self._write([*lines, {"split": ref}])
        self._open.discard(ref)
        return refs

    def done(self, ref: int) -> None:
        """Note that batch `ref` needs no replay (made durable with the next write)."""
        self._file.write(orjson.dumps({"done": ref}) + b"\n")
        self._file.flush()
        self._size = self._file.tell()
        self._open.discard(ref)

    def read(self, entry: Entry) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(
            os.pread(self._file.fileno(), entry.length, entry.offset)
        )
        return data

    def truncate(self) -> None:
        """Empty the file: every batch in it was written."""
        self._file.truncate(0)
        os.fsync(self._file.fileno())
        self._size, self._next_ref = 0, 0
        self._pending.clear()
        self.pending_rows = 0
        self._open.clear()

    def close(self, *, remove: bool = False) -> None:
        """Release the file (it is then another process's to adopt), or remove it."""
        if remove:
            self.path.unlink(missing_ok=True)
        self._file.close()

    def _write(self, objects: list[dict[str, Any]]) -> None:
        lines = [orjson.dumps(obj) + b"\n" for obj in objects]
        offset = self._size
        self._file.write(b"".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())
        for obj, line in zip(objects, lines, strict=True):
            if "ref" in obj:
                self._queue(Entry(obj["ref"], offset, len(line), len(obj["rows"])))
                self.max_seq = max(self.max_seq, obj["seq"])
            offset += len(line)
        self._size = offset

    def _queue(self, entry: Entry) -> None:
        self._pending.append(entry)
        self.pending_rows += entry.rows
        self._open.add(entry.ref)

    def _scan(self) -> None:
        """Find the batches still to replay, in file order."""
        batches: list[tuple[Entry, int | None]] = []
        finished: set[int] = set()
        split: set[int] = set()
        offset = 0
        with open(self.path, "rb") as reader:
            for line in reader:
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    self.unreadable.append(line)
                else:
                    if "ref" in obj:
                        entry = Entry(obj["ref"], offset, len(line), len(obj["rows"]))
                        batches.append((entry, obj.get("part_of")))
                        self._next_ref = max(self._next_ref, obj["ref"] + 1)
                        self.max_seq = max(self.max_seq, obj["seq"])
                    finished.update([obj["done"]] if "done" in obj else [])
                    split.update([obj["split"]] if "split" in obj else [])
                offset += len(line)
        for entry, part_of in batches:
            if entry.ref in finished or entry.ref in split:
                continue
            if part_of is None or part_of in split:
                self._queue(entry)


class DeadLetters:
    """Rows the database refused, one JSON object a line, appended by every process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, records: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(b"".join(orjson.dumps(record) + b"\n" for record in records))
            handle.flush()
            os.fsync(handle.fileno())


def dead_letter_path(place: JournalPlace) -> Path:
    """The dead-letter file of the database (shared by its processes)."""
    return place.directory / f"gatewayz-dead-letter-{place.namespace}.jsonl"


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
