# The two commands. Both set everything up first (idempotent) and then:
#   make demo   runs the bundled sample corpus through the whole pipeline and queries it
#   make test   runs the test suite
# And the throughput benchmark (not part of the tests; it takes a while):
#   make bench  generates a seeded corpus, runs it through the pipeline and prints a table
.PHONY: demo test setup bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/ingest demo

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/ingest bench
