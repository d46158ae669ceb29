"""The domain: every operation a user can do. No Qt imports here (a test enforces it)."""
