"""The invoices feature of the desktop program."""
