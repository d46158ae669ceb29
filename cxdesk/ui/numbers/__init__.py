"""The numbers feature of the desktop program."""
