"""Title-aware chunks within the embedding model's token budget, and their metadata (enrichment),
with the chunk and enrich stages."""
