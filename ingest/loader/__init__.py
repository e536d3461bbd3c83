"""Load canonical frames into the operational tables: COPY into temporary staging tables, then
set-based upserts, one transaction per batch.

Idempotent: tickets are keyed on (source_system, external_id), events on (ticket, seq); a
re-import changes nothing and a later, longer export adds only what is new. A batch is whole
or absent, so an import killed halfway is completed by running it again.

People and groups arrive as labels: people become users of the source system (no password, no
login) keyed by their label; groups are teams matched by name (created if missing), and each
(group, assignee) pair seen on a current ticket makes the assignee a member of the team.

The modules follow the seams of a load:

- `copying`: COPY and staging tables, the event appends, and the SQL the entities share;
- `report`: what a load did (counts, refused rows) and the rejects files;
- `incidents`: people and teams, incidents with their events and comments, CSAT answers;
- `cmdb`: configuration items and relationships, with the CMDB's checks;
- `changes`: changes, CAB decisions and the settling of their rounds;
- `problems`: problems and the incidents' links to them;
- `requests`: service requests, their items, fulfilment tasks and approvals, with histories;
- `orchestration`: the run, its batches and transactions, worker processes, the SLA backfill.

Bulk loading is the documented exception to "a domain's service is the only writer of its
tables": the loader writes them set-based, for speed, but applies the domains' own rules (the
priority matrix, the CMDB's loop and attribute checks, the CAB tally) and writes events only
through the events service.
"""

from ingest.loader.orchestration import (
    DEFAULT_BATCH_EVENTS,
    backfill_sla,
    default_workers,
    fail_abandoned_runs,
    load,
    sla_batch_events,
    ticket_batches,
    workers_possible,
)
from ingest.loader.report import LoadReport

__all__ = [
    "DEFAULT_BATCH_EVENTS",
    "LoadReport",
    "backfill_sla",
    "default_workers",
    "fail_abandoned_runs",
    "load",
    "sla_batch_events",
    "ticket_batches",
    "workers_possible",
]
