#!/usr/bin/env python3
"""The two set-up commands, needing only Python 3.11+.

    python3 dev.py up      create .venv if missing, install, start everything with demo data
    python3 dev.py test    create .venv if missing, install with dev tools, lint and run the tests

Arguments after ``test`` go to pytest (``python3 dev.py test tests/core -x``).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("ITSM_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _run(*command: str | Path, **kwargs) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, cwd=ROOT, **kwargs)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project; reinstall only when the pins changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run on an older python3
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes()
        + (ROOT / "constraints.txt").read_bytes()
        + extras.encode()
    ).hexdigest()
    stamp = VENV / ".itsm-installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    _run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--constraint",
        "constraints.txt",
        "-e",
        target,
    )
    stamp.write_text(digest)


def up(arguments: list[str]) -> None:
    ensure_venv("")
    os.execv(BIN / "itsm", [str(BIN / "itsm"), "up", *arguments])


def test(arguments: list[str]) -> None:
    ensure_venv("dev")
    _run(BIN / "ruff", "check", ".")
    _run(BIN / "ruff", "format", "--check", ".")
    workers = os.environ.get("ITSM_TEST_WORKERS", "auto")
    # A folder of this run's own: pytest's shared pytest-of-<user> rotation would otherwise
    # delete a concurrent run's folder, and the embedded server inside it.
    own_folder = None
    if not any(argument.startswith("--basetemp") for argument in arguments):
        own_folder = tempfile.mkdtemp(prefix="itsm-tests-")
        arguments = [f"--basetemp={own_folder}", *arguments]
    try:
        result = subprocess.run(
            [str(PYTHON), "-m", "pytest", "-n", workers, *arguments], cwd=ROOT, check=False
        )
    finally:
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)
    sys.exit(result.returncode)


def main() -> None:
    commands = {"up": up, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
