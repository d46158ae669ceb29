"""The customers feature of the desktop program."""
