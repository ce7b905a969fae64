"""The model host: a local process that keeps the parsers, the redaction detector and the embedding model
loaded between runs, so that a small run (a one-document edit, a refresh that found a few changed files)
does not load them again.

A run's process loads unstructured and its spaCy model, the NER model and the embedding model before it
can parse, redact and embed a single document: about 10 s of CPU on a 2-core machine, most of a
one-document edit. `ingest host` starts a process that loads them once and serves every run of the same
INGEST_HOME until it has been idle for a while (`--idle-minutes`, default 30):
- `protocol`: where the host listens, the key that admits a client, and the client a run uses;
- `server`: the host itself.

A run uses the host when one is listening for its INGEST_HOME and runs the same code and embedding
settings; otherwise (none running, another version, a host that dies mid-call) it loads everything
itself, as it would without one. The host parses and redacts in its own worker processes; only redacted
elements and parse counts come back, never the unredacted text.
"""
