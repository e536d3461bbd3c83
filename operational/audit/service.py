"""Seals over the event log's hash chains, and the check of chains and seals
(docs/security.md, "Audit trail").

The events service links every event into its record's chain (``operational/events/chain.py``).
Here:

- ``seal`` signs (HMAC-SHA256, the install's audit key) the root over every chain's head and
  stores it with the heads that moved since the seal before; seals chain through their
  signatures. The worker seals every ``ITSM_AUDIT_SEAL_MINUTES``; ``itsm audit anchor`` and the
  compliance export seal too.
- ``verify`` recomputes every chain and checks every seal, and names the first broken links.
"""

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from operational.audit.models import Seal, SealHead
from operational.core.db import insert_rows
from operational.events import chain

# One seal at a time, so that each builds on the one before.
_SEAL_LOCK_KEY = 0x5EA1_0A0D
# A seal looks for chains that moved among the events recorded this long before the last seal
# (an event's recorded_at is its transaction's start, which may precede that seal's time).
SEAL_LOOKBACK = timedelta(days=1)
_FETCH = 20_000
# The offline verifier in every compliance export: a copy of operational/events/chain.py.
VERIFIER_NAME = "verify_audit.py"

Heads = dict[tuple[str, int], tuple[int, str]]


def latest_seal(*, session: Session) -> Seal | None:
    return session.scalars(select(Seal).order_by(Seal.id.desc()).limit(1)).first()


def sealed_heads(*, session: Session, up_to: int | None = None) -> Heads:
    """Every chain's head as the seals up to seal ``up_to`` (all: None) recorded them."""
    rows = session.execute(
        text(
            """
            select distinct on (entity_type, entity_id) entity_type, entity_id, seq, hash
            from operational.audit_seal_heads
            where cast(:up_to as bigint) is null or seal_id <= :up_to
            order by entity_type, entity_id, seal_id desc
            """
        ),
        {"up_to": up_to},
    )
    return {(row[0], row[1]): (row[2], row[3]) for row in rows}


def _current_heads(session: Session, since: datetime | None) -> Heads:
    """The head of every chain (``since`` None), or of the chains with an event recorded
    since then."""
    moved = ""
    if since is not None:
        moved = """
            where (e.entity_type, e.entity_id) in (
                select distinct entity_type, entity_id from operational.events
                where recorded_at >= :since
            )"""
    rows = session.execute(
        text(
            f"""
            select distinct on (e.entity_type, e.entity_id)
                e.entity_type, e.entity_id, e.seq, e.hash
            from operational.events e {moved}
            order by e.entity_type, e.entity_id, e.seq desc
            """
        ),
        {"since": since} if since is not None else {},
    )
    return {(row[0], row[1]): (row[2], row[3]) for row in rows}


def seal(*, session: Session, key: str) -> Seal:
    """Seal the chains' heads as this transaction sees them; returns the new seal."""
    session.execute(select(func.pg_advisory_xact_lock(_SEAL_LOCK_KEY)))
    previous = latest_seal(session=session)
    heads = sealed_heads(session=session) if previous else {}
    since = previous.sealed_at - SEAL_LOOKBACK if previous else None
    moved = {
        chain_key: head
        for chain_key, head in _current_heads(session, since).items()
        if heads.get(chain_key) != head
    }
    heads.update(moved)
    seal_id, sealed_at = session.execute(
        text("select nextval(pg_get_serial_sequence('operational.audit_seals', 'id')), now()")
    ).one()
    values: dict[str, Any] = {
        "id": seal_id,
        "sealed_at": sealed_at,
        "chain_count": len(heads),
        "event_count": sum(seq for seq, _ in heads.values()),
        "root": chain.root(heads),
        "previous_signature": previous.signature if previous else None,
    }
    new = Seal(**values, signature=chain.sign(key, values), key_id=chain.key_id(key))
    session.add(new)
    session.flush()
    if moved:
        insert_rows(
            session,
            SealHead.__table__,
            [
                {
                    "seal_id": seal_id,
                    "entity_type": entity_type,
                    "entity_id": entity_id,
                    "seq": seq,
                    "hash": head,
                }
                for (entity_type, entity_id), (seq, head) in moved.items()
            ],
        )
    return new


def seal_if_due(*, session: Session, key: str, every: timedelta) -> Seal | None:
    """A new seal when the last is older than ``every`` and events were recorded since."""
    previous = latest_seal(session=session)
    if previous is not None:
        now = session.scalar(select(func.now()))
        if now - previous.sealed_at < every:
            return None
        newer = session.scalar(
            text("select exists (select 1 from operational.events where recorded_at >= :since)"),
            {"since": previous.sealed_at},
        )
        if not newer:
            return None
    return seal(session=session, key=key)


def anchor(*, session: Session, key: str) -> dict[str, Any]:
    """Seal now and return what an auditor keeps outside the system."""
    new = seal(session=session, key=key)
    return describe(new)


def describe(seal: Seal) -> dict[str, Any]:
    return {
        "seal_id": seal.id,
        "sealed_at": chain.timestamp(seal.sealed_at),
        "root": seal.root,
        "chain_count": seal.chain_count,
        "event_count": seal.event_count,
        "signature": seal.signature,
        "key_id": seal.key_id,
    }


# -- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """One broken link: the record (or seal) and what differs."""

    where: str
    seq: int | None
    what: str

    def __str__(self) -> str:
        at = f" seq {self.seq}" if self.seq is not None else ""
        return f"{self.where}{at}: {self.what}"


@dataclass
class Verification:
    events: int = 0
    chains: int = 0
    seals: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks


_EVENT_COLUMNS = ", ".join(f"e.{name}" for name in (*chain.FIELDS, "prev_hash", "hash"))


def _event_rows(
    session: Session, since: datetime | None, until: datetime | None, *, bounded: bool = False
) -> Iterator[dict[str, Any]]:
    """The events to check, by record and seq. With a period: the records with an event
    recorded in it, from the event before their first one there (``anchor`` true) on; up to
    their last one there when ``bounded``."""
    if since is None and until is None:
        sql = f"""
            select {_EVENT_COLUMNS}, false as anchor, 1 as first_seq
            from operational.events e order by e.entity_type, e.entity_id, e.seq"""
    else:
        sql = f"""
            with touched as (
                select entity_type, entity_id, min(seq) as first_seq, max(seq) as last_seq
                from operational.events
                where (cast(:since as timestamptz) is null or recorded_at >= :since)
                  and (cast(:until as timestamptz) is null or recorded_at < :until)
                group by entity_type, entity_id
            )
            select {_EVENT_COLUMNS}, e.seq < t.first_seq as anchor, t.first_seq
            from operational.events e
            join touched t on t.entity_type = e.entity_type and t.entity_id = e.entity_id
            where e.seq >= t.first_seq - 1 and (not :bounded or e.seq <= t.last_seq)
            order by e.entity_type, e.entity_id, e.seq"""
    result = session.execute(
        text(sql),
        {"since": since, "until": until, "bounded": bounded},
        execution_options={"yield_per": _FETCH},
    )
    for row in result.mappings():
        yield dict(row)


def verify(
    *,
    session: Session,
    key: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> Verification:
    """Check every chain (or those with events recorded in the period) and every seal; the
    first ``limit`` breaks, in record and seq order, then seal order."""
    report = Verification()

    def broken(where: str, seq: int | None, what: str) -> None:
        if len(report.breaks) < limit:
            report.breaks.append(Break(where, seq, what))

    last_key: tuple[str, int] | None = None
    previous: tuple[int, str] | None = None
    first_seq = 1
    skip_chain = False
    for event in _event_rows(session, since, until):
        chain_key = (event["entity_type"], event["entity_id"])
        if chain_key != last_key:
            last_key, previous, skip_chain = chain_key, None, False
            first_seq = event["first_seq"]
            report.chains += 1
            if not event["anchor"] and first_seq > 1:
                broken(
                    f"{chain_key[0]} {chain_key[1]}",
                    first_seq - 1,
                    "the event is missing: an event was deleted or renumbered",
                )
                skip_chain = True
        if skip_chain:
            continue
        if event["anchor"]:
            if event["seq"] != event["first_seq"] - 1:
                broken(
                    f"{chain_key[0]} {chain_key[1]}",
                    event["first_seq"] - 1,
                    "the event is missing: an event was deleted or renumbered",
                )
                skip_chain = True
            previous = (event["seq"], event["hash"])
            continue
        report.events += 1
        wrong = chain.check_link(event, previous, first_seq=first_seq)
        if wrong:
            broken(f"{chain_key[0]} {chain_key[1]}", event["seq"], wrong)
            skip_chain = True  # everything after the first break of a record follows from it
            continue
        previous = (event["seq"], event["hash"])

    _verify_seals(session, key, since, until, report, broken)
    return report


def _verify_seals(
    session: Session,
    key: str,
    since: datetime | None,
    until: datetime | None,
    report: Verification,
    broken: Callable[[str, int | None, str], None],
) -> None:
    """Replay the seals in order: each follows the one before, carries a valid signature, and
    (the newest, and those in the period) its root is the root over its heads; every sealed
    head is still in the log with its hash."""
    seals = session.scalars(select(Seal).order_by(Seal.id)).all()
    if not seals:
        return
    deltas: dict[int, Heads] = {}
    for row in session.execute(
        select(
            SealHead.seal_id, SealHead.entity_type, SealHead.entity_id, SealHead.seq, SealHead.hash
        )
    ):
        deltas.setdefault(row[0], {})[(row[1], row[2])] = (row[3], row[4])
    heads: Heads = {}
    previous_signature = None
    current_key_id = chain.key_id(key)
    for index, sealed in enumerate(seals):
        report.seals += 1
        name = f"seal {sealed.id} ({chain.timestamp(sealed.sealed_at)})"
        heads.update(deltas.get(sealed.id, {}))
        values = {
            "id": sealed.id,
            "sealed_at": sealed.sealed_at,
            "chain_count": sealed.chain_count,
            "event_count": sealed.event_count,
            "root": sealed.root,
            "previous_signature": sealed.previous_signature,
        }
        if sealed.previous_signature != previous_signature:
            broken(name, None, "it does not follow the seal before it: a seal was deleted")
        previous_signature = sealed.signature
        if sealed.key_id != current_key_id:
            broken(name, None, f"signed with another key (key id {sealed.key_id})")
        elif chain.sign(key, values) != sealed.signature:
            broken(name, None, "its signature does not match: the seal was changed")
        in_period = (since is None or sealed.sealed_at >= since) and (
            until is None or sealed.sealed_at < until
        )
        if in_period or index == len(seals) - 1:
            if chain.root(heads) != sealed.root:
                broken(name, None, "the root over its chain heads is not the sealed root")
            elif len(heads) != sealed.chain_count:
                broken(name, None, "its chain count is not the number of its heads")
    # Every sealed head must still be in the log, with the hash sealed.
    for row in session.execute(
        text(
            """
            select h.seal_id, h.entity_type, h.entity_id, h.seq, h.hash, e.hash as stored
            from operational.audit_seal_heads h
            left join operational.events e on e.entity_type = h.entity_type
                and e.entity_id = h.entity_id and e.seq = h.seq
            where e.hash is distinct from h.hash
            order by h.seal_id, h.entity_type, h.entity_id
            """
        )
    ):
        what = (
            "the sealed event is missing from the log: it was deleted"
            if row.stored is None
            else f"the event's hash {row.stored} is not the sealed {row.hash}: it was "
            "changed, or its record's chain rewritten, after seal " + str(row.seal_id)
        )
        broken(f"{row.entity_type} {row.entity_id}", row.seq, what)


def check_anchor(*, session: Session, anchor: dict[str, Any]) -> Break | None:
    """An anchor kept outside must still match its seal."""
    kept = session.get(Seal, anchor["seal_id"])
    name = f"seal {anchor['seal_id']} (anchored {anchor['sealed_at']})"
    if kept is None:
        return Break(name, None, "the anchored seal is missing: it was deleted")
    differing = [key for key, value in describe(kept).items() if anchor.get(key) != value]
    if differing:
        return Break(name, None, f"differs from the anchor in {', '.join(differing)}")
    return None


# -- the audit trail of a compliance export -----------------------------------------------------


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_trail(
    *, session: Session, key: str, since: datetime, until: datetime, folder: Path
) -> dict[str, int]:
    """Write the event log's part of a compliance export into ``folder``: the events recorded
    in [since, until) with their hashes, the hash before each record's first one, a new seal
    with every chain head it covers, and the offline verifier. Returns the rows of each file.

    The events are read before the seal is made, so the seal covers every event written.
    """
    rows: dict[str, int] = {}
    count = 0
    with (folder / chain.EVENTS_FILE).open("w", encoding="utf-8") as handle:
        for event in _event_rows(session, since, until, bounded=True):
            if event.pop("anchor"):
                continue
            event.pop("first_seq")
            event["occurred_at"] = chain.timestamp(event["occurred_at"])
            event["recorded_at"] = chain.timestamp(event["recorded_at"])
            handle.write(_json_line(event))
            count += 1
    rows[chain.EVENTS_FILE] = count
    starts = session.execute(
        text(
            """
            with touched as (
                select entity_type, entity_id, min(seq) as first_seq
                from operational.events
                where recorded_at >= :since and recorded_at < :until
                group by entity_type, entity_id
            )
            select e.entity_type, e.entity_id, e.seq, e.hash
            from touched t
            join operational.events e on e.entity_type = t.entity_type
                and e.entity_id = t.entity_id and e.seq = t.first_seq - 1
            order by e.entity_type, e.entity_id
            """
        ),
        {"since": since, "until": until},
    ).all()
    with (folder / chain.STARTS_FILE).open("w", encoding="utf-8") as handle:
        for row in starts:
            handle.write(
                _json_line(
                    {"entity_type": row[0], "entity_id": row[1], "seq": row[2], "hash": row[3]}
                )
            )
    rows[chain.STARTS_FILE] = len(starts)

    sealed = seal(session=session, key=key)
    described = describe(sealed) | {"previous_signature": sealed.previous_signature}
    (folder / chain.SEAL_FILE).write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    rows[chain.SEAL_FILE] = 1
    heads = sealed_heads(session=session, up_to=sealed.id)
    with (folder / chain.HEADS_FILE).open("w", encoding="utf-8") as handle:
        for (entity_type, entity_id), (seq, head) in sorted(heads.items()):
            handle.write(
                _json_line(
                    {"entity_type": entity_type, "entity_id": entity_id, "seq": seq, "hash": head}
                )
            )
    rows[chain.HEADS_FILE] = len(heads)
    shutil.copyfile(chain.__file__, folder / VERIFIER_NAME)
    rows[VERIFIER_NAME] = 0
    return rows
