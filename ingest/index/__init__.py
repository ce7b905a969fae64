"""The per-tenant Qdrant collections: the client wrapper, staging and publishing (blue/green),
erasure of one document, and the lineage behind a point."""
