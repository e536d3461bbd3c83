"""The event log's hash chains: the one canonical serialization of an event, its SHA-256, and
the root over all chain heads that a seal signs (docs/security.md, "Audit trail").

Every record (``entity_type``, ``entity_id``) has its own chain, ordered by ``seq``: each event
stores ``prev_hash`` (the hash of the record's event ``seq - 1``, null for ``seq`` 1) and
``hash``, the SHA-256 of its canonical serialization, which includes ``prev_hash``.

This module uses the standard library only and runs on its own: the compliance export copies
it into its folder as ``verify_audit.py``, and ``python3 verify_audit.py <folder>`` checks the
export offline (see ``verify_export``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

FORMAT = "itsm-event-1"
SEAL_FORMAT = "itsm-seal-1"
# The fields of an event in the order the canonical serialization lists them (prev_hash last).
FIELDS = (
    "entity_type",
    "entity_id",
    "seq",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "actor_label",
    "kind",
    "field",
    "old_value",
    "new_value",
    "data",
    "source_system",
    "synthesized",
)
_LARGEST_EXACT_INTEGER = 2**53


def timestamp(value: datetime | str) -> str:
    """A time as the serialization writes it: UTC, microseconds, ``Z``
    (``2026-12-06T20:40:06.123456Z``). A string is taken as written already."""
    if isinstance(value, str):
        return value
    return _utc_text(value)


@lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    # Equal instants give equal text whatever their zone; bulk appends repeat instants (an SLA
    # backfill writes several transitions at each change point).
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize_data(value: Any) -> Any:
    """``data`` as the serialization writes it: a float with an integral value becomes an
    integer (PostgreSQL's jsonb may give back ``100`` for ``1e2`` or ``100.0``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _LARGEST_EXACT_INTEGER:
        return int(value)
    if isinstance(value, dict):
        return {key: normalize_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize_data(item) for item in value]
    return value


def canonical(event: dict[str, Any], prev_hash: str | None) -> bytes:
    """The one serialization an event's hash is taken over.

    A JSON array (UTF-8, no whitespace, object keys sorted, non-ASCII as is, no NaN):
    ``["itsm-event-1", entity_type, entity_id, seq, occurred_at, recorded_at, actor_id,
    actor_label, kind, field, old_value, new_value, data, source_system, synthesized,
    prev_hash]``; times as ``timestamp`` writes them, ``data`` as ``normalize_data`` gives it.
    """
    return _serialize(tuple(event[name] for name in FIELDS), prev_hash)


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _one_shot_encoder() -> Any:
    """``_ENCODER.encode`` without its set-up on every call (a third of its cost on an event):
    the same C encoder that ``encode`` builds each time, built once. Falls back to ``encode``
    where the C accelerator is missing or takes other arguments."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    try:
        encoder = make(
            None,  # no circular check: events' data come from JSON
            _ENCODER.default,
            json.encoder.encode_basestring,
            None,
            _ENCODER.key_separator,
            _ENCODER.item_separator,
            _ENCODER.sort_keys,
            _ENCODER.skipkeys,
            _ENCODER.allow_nan,
        )
        probe = [FORMAT, {"b": 1.5, "a": "é"}, None, True]
        if "".join(encoder(probe, 0)) != _ENCODER.encode(probe):
            return _ENCODER.encode
    except (TypeError, ValueError):
        return _ENCODER.encode
    return lambda value: "".join(encoder(value, 0))


# Compact JSON as the serialization writes it (keys sorted); also what bulk appends store.
encode = _one_shot_encoder()


def _serialize(row: tuple[Any, ...], prev_hash: str | None) -> bytes:
    values = [FORMAT, *row, prev_hash]
    if not isinstance(values[4], str):
        values[4] = timestamp(values[4])
    if not isinstance(values[5], str):
        values[5] = timestamp(values[5])
    if values[12] is not None:
        values[12] = normalize_data(values[12])
    return encode(values).encode()


def row_hash(row: tuple[Any, ...], prev_hash: str | None) -> str:
    """The hash of an event given as a tuple of its ``FIELDS`` values, in that order."""
    return hashlib.sha256(_serialize(row, prev_hash)).hexdigest()


def event_hash(event: dict[str, Any], prev_hash: str | None) -> str:
    return hashlib.sha256(canonical(event, prev_hash)).hexdigest()


# -- the root over all chain heads ------------------------------------------------------------


def root(heads: dict[tuple[str, int], tuple[int, str]]) -> str:
    """SHA-256 over every chain's head, one line each, sorted by record:
    ``<entity_type>\\t<entity_id>\\t<seq>\\t<hash>\\n``. The empty log's root hashes nothing."""
    digest = hashlib.sha256()
    for (entity_type, entity_id), (seq, head) in sorted(heads.items()):
        digest.update(f"{entity_type}\t{entity_id}\t{seq}\t{head}\n".encode())
    return digest.hexdigest()


def seal_message(seal: dict[str, Any]) -> bytes:
    """What a seal's signature covers: its number, time, counts, root and the previous seal's
    signature (so seals form a chain of their own)."""
    return "\n".join(
        [
            SEAL_FORMAT,
            str(seal["id"]),
            timestamp(seal["sealed_at"]),
            str(seal["chain_count"]),
            str(seal["event_count"]),
            seal["root"],
            seal["previous_signature"] or "",
        ]
    ).encode()


def sign(key: str, seal: dict[str, Any]) -> str:
    """HMAC-SHA256 of the seal's message with the install's audit key."""
    return hmac.new(key.encode(), seal_message(seal), hashlib.sha256).hexdigest()


def key_id(key: str) -> str:
    """A key's public name: the first 16 hex digits of its SHA-256 (never the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# -- checking one chain -----------------------------------------------------------------------


def check_link(
    event: dict[str, Any], previous: tuple[int, str] | None, *, first_seq: int = 1
) -> str | None:
    """What is wrong with ``event`` as the next link after ``previous`` (seq, hash) of its
    chain, or None. ``previous`` None: the event must be the chain's ``first_seq``."""
    expected_seq = previous[0] + 1 if previous else first_seq
    if event["seq"] != expected_seq:
        return (
            f"seq {expected_seq} is missing (the next event stored is seq {event['seq']}): "
            "an event was deleted or renumbered"
        )
    expected_prev = previous[1] if previous else None
    if event["prev_hash"] != expected_prev:
        return (
            f"prev_hash {event['prev_hash']} is not the hash of seq {expected_seq - 1} "
            f"({expected_prev}): an event before it was changed, replaced or inserted"
        )
    if not event["hash"]:
        return "the event has no hash: it was written around the event log's writer"
    computed = event_hash(event, event["prev_hash"])
    if computed != event["hash"]:
        return (
            f"its content does not give its stored hash (stored {event['hash']}, content "
            f"gives {computed}): the event was changed after it was written"
        )
    return None


# -- offline verification of a compliance export ----------------------------------------------

EVENTS_FILE = "audit_events.jsonl"
STARTS_FILE = "audit_chain_starts.jsonl"
SEAL_FILE = "audit_seal.json"
HEADS_FILE = "audit_seal_heads.jsonl"
MANIFEST_FILE = "manifest.json"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def verify_export(folder: Path, *, key: str | None = None) -> list[str]:
    """Everything wrong with the export in ``folder``; empty when it is intact.

    1. Every file the manifest lists has its size and SHA-256, and no file is missing.
    2. Every event of the period gives its stored hash and links to the one before it (the
       chain's start before the period is in the starts file).
    3. The seal's root is the root over the seal's chain heads, and every chain whose last
       event of the period is its sealed head ends on the sealed hash.
    4. With ``key`` (the install's audit key), the seal's signature is checked too.
    """
    problems: list[str] = []
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    listed = {entry["name"] for entry in manifest["files"]}
    for entry in manifest["files"]:
        path = folder / entry["name"]
        if not path.exists():
            problems.append(f"{entry['name']}: missing")
        elif path.stat().st_size != entry["bytes"] or _file_sha256(path) != entry["sha256"]:
            problems.append(f"{entry['name']}: its SHA-256 is not the manifest's (changed)")
    for name in (EVENTS_FILE, STARTS_FILE, SEAL_FILE, HEADS_FILE):
        if name not in listed:
            problems.append(f"{name}: not in the manifest")
    if problems:
        return problems

    starts = {
        (row["entity_type"], row["entity_id"]): (row["seq"], row["hash"])
        for row in _jsonl(folder / STARTS_FILE)
    }
    last: dict[tuple[str, int], tuple[int, str]] = {}
    for event in _jsonl(folder / EVENTS_FILE):
        chain = (event["entity_type"], event["entity_id"])
        previous = last.get(chain, starts.get(chain))
        wrong = check_link(event, previous)
        if wrong:
            problems.append(f"{chain[0]} {chain[1]} seq {event['seq']}: {wrong}")
            break
        last[chain] = (event["seq"], event["hash"])

    seal = json.loads((folder / SEAL_FILE).read_text(encoding="utf-8"))
    heads = {
        (row["entity_type"], row["entity_id"]): (row["seq"], row["hash"])
        for row in _jsonl(folder / HEADS_FILE)
    }
    if root(heads) != seal["root"]:
        problems.append(f"{SEAL_FILE}: the root over {HEADS_FILE} is not the sealed root")
    for chain, (seq, head) in last.items():
        sealed = heads.get(chain)
        if sealed is None or sealed[0] < seq:
            problems.append(f"{chain[0]} {chain[1]} seq {seq}: written after the seal, or unsealed")
        elif sealed[0] == seq and sealed[1] != head:
            problems.append(f"{chain[0]} {chain[1]} seq {seq}: not the sealed head hash")
    signed = {**seal, "id": seal["seal_id"]}
    if key is not None and not hmac.compare_digest(sign(key, signed), seal["signature"]):
        problems.append(f"{SEAL_FILE}: the signature does not match (not this install's key)")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python3 verify_audit.py [FOLDER] [--key-file FILE]``: exit 0 when intact, 1 if not."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    key = None
    if "--key-file" in arguments:
        position = arguments.index("--key-file")
        key = Path(arguments[position + 1]).read_text().strip()
        del arguments[position : position + 2]
    folder = Path(arguments[0]) if arguments else Path(__file__).resolve().parent
    problems = verify_export(folder, key=key)
    for problem in problems:
        print(f"BROKEN: {problem}")
    if not problems:
        print(f"OK: {folder} is intact (files, event chains, seal root)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
