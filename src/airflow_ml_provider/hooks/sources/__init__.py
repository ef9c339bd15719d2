"""One module per source kind (files, bigquery, sql), each a SourceReader (hooks.data)."""
