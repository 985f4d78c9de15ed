"""Resumable JSONL results files: the one implementation every appending writer in ieforge uses.

Corpus runs (:mod:`ieforge.runs`), the evaluation prediction cache, preference pairs and teacher
annotation all write one JSON object per line, appended, flushed and synced as each result is done, so
a run killed at any moment and started again ends with every record exactly once. This module owns the
rules they share:

- **Only ieforge's own files are changed.** Before it cuts anything or appends, :meth:`ResultsFile.open`
  reads the whole file and checks that every complete line is a record of the expected shape (an
  object with an ``id``, plus what the kind of file needs). A last line without its newline (a write a
  kill cut short) is cut off only when it reads as the start of a JSON object; a complete record that
  merely lacks its newline gets one. Anything else (a notes file, a CSV, someone else's JSONL) is
  refused with one :class:`~ieforge.errors.InputError` line naming the file, which is left byte for
  byte as it was.
- **One writer at a time.** The file is locked (``flock``, exclusive) from :meth:`ResultsFile.open` to
  :meth:`ResultsFile.close`; a second run on the same file fails at once, naming it.
- **Never the input.** With ``source`` given, an output that is the same file as the input (the same
  inode: also through a symlink, a relative path or a hard link) is refused.
- **Lines end at ``\\n`` only.** Records are written with ``ensure_ascii=False``, so texts keep U+2028,
  U+2029, U+0085 and form feeds as they are; splitting on anything but ``\\n`` would break them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ieforge.errors import InputError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected against a second writer
    fcntl = None  # type: ignore[assignment]

Record = dict[str, Any]
Shape = Callable[[Record], bool]

_JSON_OUTSIDE_STRINGS = frozenset(b" \t\r,:0123456789.eE+-truefalsn")


def has_id(record: Record) -> bool:
    """The shape every results line has: an object with an ``id``."""
    return "id" in record


def is_error(record: Record) -> bool:
    """Whether a results line records a failure (an ``error`` field that is not null)."""
    return record.get("error") is not None


def check_run_paths(input: str | Path, output: str | Path) -> None:
    """Refuse, with one line, a folder given as either file and an output that is the input."""
    input, output = Path(input), Path(output)
    for path in (input, output):
        if path.is_dir():
            raise InputError(f"{path} is a folder, not a file")
    if _same_file(input, output):
        raise InputError(f"{output} is the input file too; write the results to another file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _object_prefix(fragment: bytes) -> bool:
    """Whether ``fragment`` reads as the beginning of a JSON object cut short (what a killed write
    leaves): ``{"``, then JSON outside strings, and no closing of the outer object."""
    if not fragment.startswith(b'{"'):
        return False
    depth, in_string, escaped = 0, False, False
    for byte in fragment:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
            elif byte < 0x20:
                return False
        elif byte == 0x22:
            in_string = True
        elif byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
            if depth <= 0:
                return False  # the object closed: a whole value, not a torn one
        elif byte not in _JSON_OUTSIDE_STRINGS:
            return False
    return True


class ResultsFile:
    """An append-only JSONL results file, locked while open.

    >>> with ResultsFile("out.jsonl", source="in.jsonl") as results:  # doctest: +SKIP
    ...     done = results.done_ids()
    ...     results.append({"id": 1, "text": "...", "entities": []})

    ``what`` names a line in messages (``"result"``, ``"preference pair"`` ...); ``shape(record)`` says
    whether an object is a line of this kind of file (default: it has an ``id``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        what: str = "result",
        shape: Shape = has_id,
        source: str | Path | None = None,
    ) -> None:
        self._fh: IO[bytes] | None = None
        self.path = Path(path)
        self.what = what
        self.shape = shape
        self.source = Path(source) if source is not None else None

    # ----- opening and closing ----------------------------------------------------------------------

    def open(self) -> ResultsFile:
        """Lock the file (creating it and its folder when missing), check that it is a results file of
        this kind, and cut a torn last line. Raises :class:`InputError` (the file unchanged) when it is
        a folder, the input file, locked by another run, or not a results file."""
        if self._fh is not None:
            return self
        if self.path.is_dir():
            raise InputError(f"{self.path} is a folder, not a file")
        if self.source is not None and _same_file(self.source, self.path):
            raise InputError(f"{self.path} is the input file too; write the results to another file")
        fh = self._locked()
        try:
            self._check_and_mend(fh)
        except BaseException:
            fh.close()
            raise
        self._fh = fh
        return self

    def _locked(self) -> IO[bytes]:
        """The file opened for reading and appending, with an exclusive lock on the inode the path
        names (a rewrite by :meth:`drop` replaces the inode, so the lock is checked to be on the
        current one)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot create its folder ({exc.strerror or exc})") from None
        for _ in range(5):
            try:
                fh = self.path.open("a+b")
            except IsADirectoryError:
                raise InputError(f"{self.path} is a folder, not a file") from None
            except OSError as exc:
                raise InputError(f"{self.path}: cannot open for writing ({exc.strerror or exc})") from None
            if fcntl is None:
                return fh
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                raise InputError(
                    f"{self.path}: another run is writing this file; "
                    "wait for it to finish or write to another file"
                ) from None
            mine, named = os.fstat(fh.fileno()), self._stat()
            if named is not None and (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino):
                return fh
            fh.close()  # the file was replaced between opening and locking: lock the new one
        raise InputError(f"{self.path}: the file keeps being replaced; is another program writing it?")

    def _stat(self) -> os.stat_result | None:
        try:
            return self.path.stat()
        except OSError:
            return None

    def _check_and_mend(self, fh: IO[bytes]) -> None:
        """Every complete line must be a record of this kind; then a torn last line is cut (or a
        complete last record given its newline). Nothing is written before the whole file passed."""
        fh.seek(0)
        offset = 0
        last: tuple[int, int, bytes] | None = None  # line number, offset, bytes of a line with no "\n"
        for lineno, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                last = (lineno, offset, raw)
                break
            offset += len(raw)
            if raw.strip():
                self._parse(raw, lineno)
        if last is None:
            return
        lineno, start, raw = last
        if not raw.strip():
            return  # trailing blanks: nothing to mend, appending after them keeps every line readable
        try:
            self._parse(raw, lineno)
        except InputError:
            if not _object_prefix(raw.lstrip()):
                raise
            fh.truncate(start)  # a write cut short by a kill: the record is written again
        else:
            fh.write(b"\n")  # a whole record that lost only its newline
        fh.flush()
        os.fsync(fh.fileno())

    def _parse(self, raw: bytes, lineno: int) -> Record:
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            record = None
        if not isinstance(record, dict) or not self.shape(record):
            raise InputError(
                f"{self.path}:{lineno}: not a {self.what} line, so this is not a results file ieforge "
                "wrote; it was left unchanged (write to another file)"
            )
        return record

    def close(self) -> None:
        """Release the lock and close the file (idempotent)."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()

    @property
    def closed(self) -> bool:
        return self._fh is None

    def __enter__(self) -> ResultsFile:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _handle(self) -> IO[bytes]:
        if self._fh is None:
            self.open()
        assert self._fh is not None
        return self._fh

    # ----- reading ---------------------------------------------------------------------------------

    def records(self) -> Iterator[tuple[int, Record]]:
        """``(line number, record)`` of every line, streamed (lines split at ``\\n`` only)."""
        fh = self._handle()
        fh.seek(0)
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                yield lineno, self._parse(raw, lineno)

    def done_ids(self) -> set[str]:
        """The ids of every record already in the file, as strings."""
        return {str(rec["id"]) for _, rec in self.records()}

    # ----- writing ---------------------------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Append one record as one line (UTF-8, non-ASCII kept as is), flushed and synced."""
        fh = self._handle()
        fh.seek(0, os.SEEK_END)
        fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())

    def drop(self, which: Callable[[Record], bool] = is_error) -> int:
        """Remove the records ``which`` picks (by default the error records, so that a rerun tries
        those documents again); the other lines are kept byte for byte. The file is replaced
        atomically, and the lock moves with it. Returns how many records were removed."""
        fh = self._handle()
        fh.seek(0)
        dropped = 0
        for lineno, raw in enumerate(fh, 1):
            if raw.strip() and which(self._parse(raw, lineno)):
                dropped += 1
        if not dropped:
            return 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        new = tmp.open("w+b")
        try:
            if fcntl is not None:
                fcntl.flock(new.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            fh.seek(0)
            for lineno, raw in enumerate(fh, 1):
                if not (raw.strip() and which(self._parse(raw, lineno))):
                    new.write(raw)
            new.flush()
            os.fsync(new.fileno())
            os.replace(tmp, self.path)  # the new inode is locked before anyone can open it by name
        except BaseException:
            new.close()
            tmp.unlink(missing_ok=True)
            raise
        _sync_folder(self.path.parent)
        self._fh = new
        fh.close()
        return dropped


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def done_ids(path: str | Path, *, what: str = "result", shape: Shape = has_id) -> set[str]:
    """Ids already in a results file (none when it does not exist). A torn last line is cut off
    first; a file that is not a results file of this shape is refused and left unchanged."""
    if not Path(path).exists():
        return set()
    with ResultsFile(path, what=what, shape=shape) as results:
        return results.done_ids()


def drop_errors(path: str | Path, *, what: str = "result", shape: Shape = has_id) -> int:
    """Remove the error records from a results file (atomically); how many were removed."""
    if not Path(path).exists():
        return 0
    with ResultsFile(path, what=what, shape=shape) as results:
        return results.drop(is_error)
