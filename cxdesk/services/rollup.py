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
(:mod:`cxdesk.services.cdr_staging`); until then they are invisible. The rollup does not
wait for an import (which may have been killed and left for days): it passes over the
rows of unpublished imports, remembers each such import with the watermark it passed
(``rollup_state.passed_runs``), and adds those rows in a later run, once the import is
published. An import cleared instead has no rows left to add. The import's publishing
transaction holds the rollup off like every CDR writer, so the two never interleave.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from cxdesk.db import Database
from cxdesk.models import Cdr, RollupState, cdr_import_runs, utcnow
from cxdesk.models.cdr_staging import PUBLISHED, VISIBLE_SQL, visible_cdrs
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


def rollup_sql(dialect: str, passed: int = 0) -> str:
    """The upsert of the visible CDRs with ids in (:low, :high], and of the rows of ``passed``
    published imports up to the watermark each was passed over at (:run<i>, :upto<i>)."""
    fields = "customer_id, dt, duration, customer_duration, customer_charge, provider_charge"
    parts = [f"SELECT {fields} FROM cdrs WHERE id > :low AND id <= :high AND {VISIBLE_SQL}"]
    parts += [f"SELECT {fields} FROM cdrs WHERE import_run_id = :run{i} AND id <= :upto{i}" for i in range(passed)]
    return f"""
        INSERT INTO hourly_summaries (customer_id, hour, {', '.join(SUMS)})
        SELECT customer_id, {HOUR[dialect]}, count(*), sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END),
               sum(duration), sum(customer_duration), sum(customer_charge), sum(provider_charge)
        FROM ({' UNION ALL '.join(parts)}) AS new_cdrs
        GROUP BY 1, 2
        ON CONFLICT (customer_id, hour) DO UPDATE SET
        {', '.join(f'{c} = hourly_summaries.{c} + excluded.{c}' for c in SUMS)}
    """


@dataclass(frozen=True)
class RollupResult:
    cdrs: int  #: CDRs rolled up by this run
    hours: int  #: hourly rows inserted or updated
    last_cdr_id: int  #: the watermark after the run
    waiting: int = 0  #: CDRs of imports not published yet, passed over by this run

    def sentence(self) -> str:
        wait = (f"; {self.waiting:,} CDRs of an import not published yet wait until it is"
                if self.waiting else "")
        if not self.cdrs:
            return f"nothing to roll up (all CDRs up to id {self.last_cdr_id} are in the summary){wait}"
        return (f"rolled up {self.cdrs:,} CDRs into {self.hours:,} hourly rows (up to CDR id {self.last_cdr_id})"
                + wait)


def hold_off(session: Session) -> None:
    """Called by a CDR writer at the start of its transaction: a rollup waits until it ends."""
    session.execute(select(RollupState.id).where(RollupState.id == STATE_ID).with_for_update(read=True))


def passed_runs(text_value: str | None) -> dict[int, int]:
    """``rollup_state.passed_runs``: import run id -> the watermark it was passed over at."""
    return {int(run): int(upto) for run, upto in json.loads(text_value or "{}").items()}


def _pass_over(session: Session, low: int, high: int, passed: dict[int, int]) -> tuple[set[int], int]:
    """Remember the unpublished imports with rows in (low, high] as passed over at ``high``;
    (ids of all unpublished imports, how many of their rows were passed over now)."""
    hidden = set(session.scalars(select(cdr_import_runs.c.id).where(cdr_import_runs.c.published != PUBLISHED)))
    count = 0
    for run_id in sorted(hidden):
        here = session.scalar(select(func.count()).where(Cdr.import_run_id == run_id, Cdr.id > low, Cdr.id <= high))
        if here:
            passed[run_id] = high
            count += here
    return hidden, count


def run(db: Database, actor: Actor | None = None, comment: str = "") -> RollupResult:
    """Roll up the CDRs added since the last run; audited only when something was."""
    with unit_of_work(db, actor or SYSTEM, comment) as uow:
        session = uow.session
        low, stored = session.execute(
            select(RollupState.last_cdr_id, RollupState.passed_runs).where(RollupState.id == STATE_ID).with_for_update()
        ).one()
        passed = passed_runs(stored)
        high = session.scalar(select(func.max(Cdr.id)).where(Cdr.id > low)) or low
        count = session.scalar(select(func.count()).where(Cdr.id > low, Cdr.id <= high, visible_cdrs())) or 0
        hidden, skipped = _pass_over(session, low, high, passed)
        # imports passed over earlier that count now (published; a cleared one has no rows left)
        due = sorted((run_id, upto) for run_id, upto in passed.items() if run_id not in hidden)
        params = {"low": low, "high": high}
        for i, (run_id, upto) in enumerate(due):
            params |= {f"run{i}": run_id, f"upto{i}": upto}
            count += session.scalar(select(func.count()).where(Cdr.import_run_id == run_id, Cdr.id <= upto)) or 0
            del passed[run_id]
        if high == low and not due:
            return RollupResult(0, 0, low)
        message = f"Rolled up {count:,} CDRs" + (f" (ids {low + 1}-{high})" if high > low else "") + \
            " into the hourly summary"
        if due:
            message += f", with the {'import' if len(due) == 1 else 'imports'} " + ", ".join(
                f"{run_id}" for run_id, _ in due) + " passed over before it was published"
        if skipped:
            message += f"; passed over {skipped:,} CDRs of imports not published yet"
        upserted = uow.bulk_execute(text(rollup_sql(db.engine.dialect.name, len(due))), message,
                                    table="hourly_summaries", params=params)
        session.execute(  # the watermark moves within the audit entry above
            update(RollupState.__table__).where(RollupState.id == STATE_ID)
            .values(last_cdr_id=high, passed_runs=json.dumps({str(k): v for k, v in sorted(passed.items())}),
                    updated_at=utcnow()),
            execution_options={"cxdesk_audited": True},
        )
        return RollupResult(count, upserted.rowcount, high, skipped)
