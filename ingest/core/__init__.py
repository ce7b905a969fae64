"""Shared by every stage: settings and the tenant registry, state paths and atomic files, the data
model and table schemas, the manifest, fingerprints, ids, errors and the workers' fork server."""
