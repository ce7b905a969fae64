"""What guards the graph: the checks' logic (PII residue, chunk sanity, index consistency, freshness)
and golden-set retrieval evaluation."""
