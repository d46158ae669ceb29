"""Qt only: windows, dialogs, item models, background tasks."""
