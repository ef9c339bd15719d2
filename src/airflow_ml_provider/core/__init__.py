"""What every layer shares and nothing imports back (pydantic and the standard library only)."""
