"""The settings feature of the desktop program."""
