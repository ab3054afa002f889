"""Stage 5, the runtime: tools executed on a database exactly as the spec says, in plain Python
(execute) - the independent implementation every task is replayed on - and descriptions of
records resolved over a database (references)."""
