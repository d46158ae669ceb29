"""EN 16931 e-invoices: the Document (document.py), CII / Factur-X, UBL, validation."""
