"""The contacts feature of the desktop program."""
