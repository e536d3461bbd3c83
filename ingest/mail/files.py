"""``itsm mail import PATH``: mail delivered to disk, as .eml files or a Maildir (cur/ and new/),
each in its own transaction. Re-importing is harmless: each Message-ID is recorded once."""

import mailbox
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.mail.intake import Received, receive


@dataclass
class ImportReport:
    read: int = 0
    duplicates: int = 0
    outcomes: Counter = field(default_factory=Counter)
    results: list[tuple[str, Received]] = field(default_factory=list)


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def mails_in(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every mail at ``path``: a file, a Maildir, or a folder of .eml files."""
    if path.is_file():
        yield path.name, path.read_bytes()
    elif is_maildir(path):
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield key, box.get_bytes(key)
    elif path.is_dir():
        for file in sorted(path.glob("*.eml")):
            yield file.name, file.read_bytes()
    else:
        raise FileNotFoundError(f"No mail at {path}")


def import_path(path: Path, *, session_scope=None) -> ImportReport:
    if session_scope is None:
        from operational.core.db import session_scope
    report = ImportReport()
    for name, raw in mails_in(path):
        with session_scope() as session:
            received = receive(session=session, raw=raw)
        report.read += 1
        if received.duplicate:
            report.duplicates += 1
        else:
            report.outcomes[received.outcome.value] += 1
        report.results.append((name, received))
    return report
