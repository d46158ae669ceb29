"""The hourly summary: CDRs rolled up per customer and UTC hour, incrementally, in SQL.

``run(db)`` adds every CDR above the watermark (``rollup_state.last_cdr_id``) to its
customer's hour row with one ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE``
(a late CDR for an old hour adds to that hour's row), then moves the watermark, in one
transaction with one audit entry. Sums stay exact: NUMERIC on PostgreSQL, integer
micro-units on SQLite.

Concurrency: the rollup locks the watermark row (FOR UPDATE on PostgreSQL; on SQLite the
write transaction is BEGIN IMMEDIATE), so two rollups never count a CDR twice. CDR ids
come from a sequence on PostgreSQL, so a CDR writer that is still open may hold ids below
ones already committed: every CDR writer calls :func:`hold_off` first, which makes a
rollup wait until that writer has finished and its ids are visible.

A CDR import moves its rows into ``cdrs`` in slices before it publishes them
(:mod:`cxdesk.services.cdr_staging`): the watermark never passes below the lowest id of a
run not published yet, so its rows are rolled up once it has published (CDRs after that id
wait with them). Every row up to the watermark is therefore visible.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.models import Cdr, RollupState, cdr_import_runs, utcnow
from cxdesk.models.cdr_staging import PUBLISHED
from cxdesk.services.actor import Actor
from cxdesk.services.uow import unit_of_work

SYSTEM = Actor(login="system:rollup", role="admin", display_name="Hourly rollup", system=True)
STATE_ID = 1

#: the UTC hour of ``cdrs.dt`` in the form UTCDateTime stores: SQLite keeps naive UTC
#: text 'YYYY-MM-DD HH:MM:SS.ffffff', PostgreSQL a timestamptz
HOUR = {
    "sqlite": "substr(dt, 1, 13) || ':00:00.000000'",
    "postgresql": "date_trunc('hour', dt AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}
SUMS = ("attempts", "connected", "duration", "billed_duration", "customer_charge", "vendor_cost")


def rollup_sql(dialect: str) -> str:
    return f"""
        INSERT INTO hourly_summaries (customer_id, hour, {', '.join(SUMS)})
        SELECT customer_id, {HOUR[dialect]}, count(*), sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END),
               sum(duration), sum(customer_duration), sum(customer_charge), sum(provider_charge)
        FROM cdrs WHERE id > :low AND id <= :high
        GROUP BY 1, 2
        ON CONFLICT (customer_id, hour) DO UPDATE SET
        {', '.join(f'{c} = hourly_summaries.{c} + excluded.{c}' for c in SUMS)}
    """


@dataclass(frozen=True)
class RollupResult:
    cdrs: int  #: CDRs rolled up by this run
    hours: int  #: hourly rows inserted or updated
    last_cdr_id: int  #: the watermark after the run

    def sentence(self) -> str:
        if not self.cdrs:
            return f"nothing to roll up (all CDRs up to id {self.last_cdr_id} are in the summary)"
        return f"rolled up {self.cdrs:,} CDRs into {self.hours:,} hourly rows (up to CDR id {self.last_cdr_id})"


def hold_off(session: Session) -> None:
    """Called by a CDR writer at the start of its transaction: a rollup waits until it ends."""
    session.execute(select(RollupState.id).where(RollupState.id == STATE_ID).with_for_update(read=True))


def _lowest_unpublished(session: Session) -> int | None:
    """The lowest CDR id of an import run not published yet (one index probe per run)."""
    hidden = session.scalars(select(cdr_import_runs.c.id).where(cdr_import_runs.c.published != PUBLISHED))
    lowest = [session.scalar(select(func.min(Cdr.id)).where(Cdr.import_run_id == run)) for run in hidden.all()]
    return min((i for i in lowest if i is not None), default=None)


def run(db: Database, actor: Actor | None = None, comment: str = "") -> RollupResult:
    """Roll up the CDRs added since the last run; audited only when something was."""
    with unit_of_work(db, actor or SYSTEM, comment) as uow:
        session = uow.session
        low = session.execute(
            select(RollupState.last_cdr_id).where(RollupState.id == STATE_ID).with_for_update()
        ).scalar_one()
        unpublished = _lowest_unpublished(session)
        scope = [Cdr.id > low] + ([] if unpublished is None else [Cdr.id < unpublished])
        high, count = session.execute(select(func.max(Cdr.id), func.count()).where(*scope)).one()
        if not count:
            return RollupResult(0, 0, low)
        upserted = uow.bulk_execute(
            text(rollup_sql(db.engine.dialect.name)),
            f"Rolled up {count:,} CDRs (ids {low + 1}-{high}) into the hourly summary",
            table="hourly_summaries", params={"low": low, "high": high},
        )
        session.execute(  # the watermark moves within the audit entry above
            update(RollupState.__table__).where(RollupState.id == STATE_ID)
            .values(last_cdr_id=high, updated_at=utcnow()),
            execution_options={"cxdesk_audited": True},
        )
        return RollupResult(count, upserted.rowcount, high)
