"""Files an import may read: only those inside the folder it was given.

A mapping file names its companion files (the generic source's history file) relative to the
folder of the data file, which in the inbox is the source's own folder (``inbox/<source>/``). A
name that is absolute, climbs out with ``..``, or is a symlink that leads elsewhere is refused:
a mapping dropped in the inbox cannot make the import read (and report, line by line, in its
rejects) a file of the server that it was never meant to see.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from ingest.exceptions import MappingError


def check_relative_name(name: object, *, what: str) -> str:
    """``name`` when it is a plain relative file name or path below the folder; else
    MappingError. (Only the name is checked here; ``inside`` checks where it leads.)"""
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise MappingError(f"{what} must be a file name, got {name!r}")
    for flavour in (PurePosixPath(name), PureWindowsPath(name)):
        if flavour.is_absolute() or flavour.drive or flavour.root:
            raise MappingError(f"{what} {name!r} is absolute: name a file beside the data file")
        if ".." in flavour.parts:
            raise MappingError(f"{what} {name!r} climbs out of its folder with '..'")
    return name


def inside(folder: Path, name: str, *, what: str) -> Path:
    """The file ``name`` names in ``folder``, once it is sure to stay there (symlinks followed)."""
    check_relative_name(name, what=what)
    root = Path(folder).resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise MappingError(f"{what} {name!r} leads out of {root} (a symlink?)")
    return target
