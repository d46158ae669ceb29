"""The summary feature of the desktop program."""
