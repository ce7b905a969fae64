"""Tooling outside the runtime package: the throughput benchmark, the PII evaluation and the
synthetic corpus writers that they, the tests and the sample corpus share."""
