"""The small shared kit of the desktop program: operations, change delivery, panel and window
bases, tables, dialogs, formatting."""
