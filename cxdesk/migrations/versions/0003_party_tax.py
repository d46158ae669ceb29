"""party and tax data for EN 16931 invoices; invoice lifecycle and credit notes

Revision ID: 0003
Revises: 0002

Customers get the buyer's address, country, VAT ID, buyer reference, VAT category and
exemption reason; invoices get a state (Draft / Issued / Credited), the VAT category,
the amount paid, and the seller and buyer as they were when issued; lines get the
invoiced quantity; credit notes get their own table and their own number series
(``invoice_counter`` row 2).

Existing data is kept as it is:

* every existing invoice was handed out already, so it becomes **Issued** (issued at its
  creation time) and keeps its figures; it is marked ``legacy_amounts`` (exact line nets,
  tax = total - net), its lines' quantity is their minutes (the unit price was per minute);
* existing customers and invoices get VAT category S when their tax rate is above 0,
  else Z (zero rated); invoices marked Paid get paid_amount = total.

Columns are only added (SQLite: ALTER TABLE ADD COLUMN), never rebuilt: rebuilding
``invoices`` on SQLite would drop the table and, with foreign keys on, its lines.
"""
import sqlalchemy as sa
from alembic import op

import cxdesk.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Exact = cxdesk.models.base.Exact(precision=18, scale=6)

CUSTOMER_COLUMNS = [
    ("address_lines", 600), ("city", 100), ("post_code", 20), ("country", 2), ("vat_id", 30),
    ("buyer_reference", 200), ("vat_exemption_reason", 300), ("vat_exemption_code", 30),
]
VAT_CATEGORY_OF_RATE = "CASE WHEN tax_percent > 0 THEN 'S' ELSE 'Z' END"


def _text(name: str, length: int | None = None, default: str = "") -> sa.Column:
    kind = sa.String(length=length) if length else sa.Text()
    return sa.Column(name, kind, nullable=False, server_default=default)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, length in CUSTOMER_COLUMNS:
        op.add_column("customers", _text(name, length))
    op.add_column("customers", _text("vat_category", 2, "S"))
    op.execute(f"UPDATE customers SET vat_category = {VAT_CATEGORY_OF_RATE}")

    op.add_column("invoices", sa.Column("paid_amount", Exact, nullable=False, server_default="0"))
    op.add_column("invoices", _text("state", 10, "Draft"))
    op.add_column("invoices", sa.Column("issued_at", cxdesk.models.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column("invoices", _text("vat_category", 2, "S"))
    op.add_column("invoices", _text("vat_exemption_reason", 300))
    op.add_column("invoices", _text("vat_exemption_code", 30))
    op.add_column("invoices", sa.Column("legacy_amounts", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("invoices", _text("seller"))
    op.add_column("invoices", _text("buyer"))
    op.create_index(op.f("ix_invoices_state"), "invoices", ["state"], unique=False)
    op.execute(f"UPDATE invoices SET state = 'Issued', issued_at = created_at, legacy_amounts = "
               f"{'1' if sqlite else 'true'}, vat_category = {VAT_CATEGORY_OF_RATE}")
    op.execute("UPDATE invoices SET paid_amount = total WHERE paid_status = 'Paid'")

    op.add_column("invoice_lines", sa.Column("quantity", Exact, nullable=False, server_default="0"))
    op.execute("UPDATE invoice_lines SET quantity = minutes")

    op.create_table(
        "credit_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("credit_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("net", Exact, nullable=False),
        sa.Column("tax", Exact, nullable=False),
        sa.Column("total", Exact, nullable=False),
        sa.Column("seller", sa.Text(), nullable=False),
        sa.Column("buyer", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", cxdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cxdesk.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_credit_notes_customer_id_customers"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_credit_notes_invoice_id")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_notes_number")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_credit_notes_customer_id"), "credit_notes", ["customer_id"], unique=False)
    op.execute("INSERT INTO invoice_counter (id, last_number) VALUES (2, 0)")


def downgrade() -> None:
    """Drops what upgrade added (credit notes are lost); SQLite 3.35+ drops columns in place."""
    op.execute("DELETE FROM invoice_counter WHERE id = 2")
    op.drop_index(op.f("ix_credit_notes_customer_id"), table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_column("invoice_lines", "quantity")
    op.drop_index(op.f("ix_invoices_state"), table_name="invoices")
    for name in ("paid_amount", "state", "issued_at", "vat_category", "vat_exemption_reason", "vat_exemption_code",
                 "legacy_amounts", "seller", "buyer"):
        op.drop_column("invoices", name)
    for name, _ in CUSTOMER_COLUMNS + [("vat_category", 2)]:
        op.drop_column("customers", name)
