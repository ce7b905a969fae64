"""From a tenant's folder to typed elements: listing and hashing sources, parsing and OCR, the limits
checked before a parser opens a file, the worker processes, and the source and parse-and-redact stages."""
