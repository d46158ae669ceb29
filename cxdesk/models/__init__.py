"""ORM entities, one module per aggregate. No Qt here."""
from cxdesk.models.audit import ACTIONS, GENESIS_HASH, AuditEntry, AuditHead
from cxdesk.models.base import Base, Exact, UTCDateTime, utcnow
from cxdesk.models.calls import Cdr, HourlySummary, RollupState
from cxdesk.models.cdr_staging import cdr_import_rows as cdr_import_rows, cdr_import_runs as cdr_import_runs
from cxdesk.models.customer import CONTACT_TYPES, INVOICE_SCHEDULES, STATUSES, Contact, Customer
from cxdesk.models.invoices import PAID_STATUSES, Invoice, InvoiceCounter, InvoiceLine
from cxdesk.models.numbers import NumberBlock, SipUser
from cxdesk.models.operator import ROLES, Operator
from cxdesk.models.options import Option
from cxdesk.models.scheduled import ScheduledChange

__all__ = [
    "ACTIONS", "CONTACT_TYPES", "GENESIS_HASH", "INVOICE_SCHEDULES", "PAID_STATUSES", "ROLES",
    "STATUSES", "AuditEntry", "AuditHead", "Base", "Cdr", "Contact", "Customer", "Exact",
    "HourlySummary", "Invoice", "InvoiceCounter", "InvoiceLine", "NumberBlock", "Operator",
    "Option", "RollupState", "ScheduledChange", "SipUser", "UTCDateTime", "utcnow",
]


def _sqlite_autoincrement() -> None:
    """Never reuse a deleted row's id on SQLite: a delayed edit of a deleted contact must
    not land on the next new one, and audit entries must keep their ids."""
    for table in Base.metadata.tables.values():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].autoincrement is not False and table.name not in {
            "audit_head", "invoice_counter", "rollup_state", "options",
        }:
            table.dialect_options["sqlite"]["autoincrement"] = True


_sqlite_autoincrement()
