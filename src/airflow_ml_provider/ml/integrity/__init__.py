"""What may be imported and loaded: the allow-lists at import time, model digests and trusted
types, skops files, provenance tags."""
