"""The audit feature of the desktop program."""
