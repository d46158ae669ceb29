"""The operators feature of the desktop program."""
