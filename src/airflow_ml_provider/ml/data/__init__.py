"""Reading a snapshot and checking it: the split, always-on guards, Great Expectations suites,
the inferred schema, what changed since the champion."""
