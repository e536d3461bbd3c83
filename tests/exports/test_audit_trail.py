"""The compliance export carries the event log's audit trail of its period, and a verifier
that checks the folder offline (standard library only, in a separate Python process)."""

import json
import subprocess
import sys
from datetime import UTC, datetime

from operational.events import chain
from operational.events import service as events
from operational.exports import service


def _export(session, tmp_path):
    today = datetime.now(UTC).date()
    return service.create_export(
        session=session,
        period_start=today,
        period_end=today,
        directory=tmp_path,
        generated_by="test",
    )


def _verify(folder, *arguments):
    return subprocess.run(
        [sys.executable, "-I", str(folder / "verify_audit.py"), *arguments],
        capture_output=True,
        text=True,
        cwd=folder,
        check=False,
    )


def _writable(path):
    path.chmod(0o644)
    return path


def _with_events(session, factory):
    user = factory.user()
    for number in range(3):
        events.append(
            session=session,
            entity_type="incident",
            entity_id=700_001,
            kind="comment_added",
            actor=user,
            new_value=f"note {number} ünïcode",
            data={"comment_id": number},
        )


def test_the_export_verifies_offline_and_names_a_changed_event(
    session, factory, compliance_marts, tmp_path
):
    _with_events(session, factory)
    export = _export(session, tmp_path)
    folder = tmp_path / export.folder
    assert service.verify_folder(folder) == []
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["audit"]["events"] >= 3
    seal = json.loads((folder / "audit_seal.json").read_text())
    assert manifest["audit"]["seal"]["root"] == seal["root"]

    intact = _verify(folder)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith("OK")
    key_file = tmp_path / "audit.key"
    from operational.core.keys import BUILT_IN_AUDIT_KEY

    key_file.write_text(BUILT_IN_AUDIT_KEY)
    assert _verify(folder, "--key-file", str(key_file)).returncode == 0
    key_file.write_text("not the key")
    signed = _verify(folder, "--key-file", str(key_file))
    assert signed.returncode == 1 and "signature does not match" in signed.stdout

    # A tamperer edits an event and updates the manifest's checksum to match: the chain breaks.
    events_file = _writable(folder / chain.EVENTS_FILE)
    lines = events_file.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(n for n, line in enumerate(lines) if '"note 1' in line)
    lines[index] = lines[index].replace("note 1", "note X")
    events_file.write_text("".join(lines), encoding="utf-8")
    manifest_path = _writable(folder / "manifest.json")
    for entry in manifest["files"]:
        if entry["name"] == chain.EVENTS_FILE:
            entry["sha256"] = chain._file_sha256(events_file)
            entry["bytes"] = events_file.stat().st_size
    manifest_path.write_text(json.dumps(manifest))
    broken = _verify(folder)
    assert broken.returncode == 1
    assert "incident 700001 seq 2: its content does not give its stored hash" in broken.stdout


def test_the_offline_verifier_detects_a_tampered_file(session, factory, compliance_marts, tmp_path):
    _with_events(session, factory)
    folder = tmp_path / _export(session, tmp_path).folder
    heads = _writable(folder / chain.HEADS_FILE)
    heads.write_text(heads.read_text().replace('"seq":3', '"seq":2'))
    result = _verify(folder)
    assert result.returncode == 1
    assert "audit_seal_heads.jsonl: its SHA-256 is not the manifest's (changed)" in result.stdout
