# The two commands. Both set everything up first (idempotent) and then:
#   make demo   runs the bundled sample corpus through the whole pipeline and queries it
#   make test   runs the test suite
# Tooling (not part of the tests; each takes a while), see benchmarks/README.md:
#   make bench     generates a seeded corpus, runs it through the pipeline and prints a table
#   make eval-pii  scores the redaction against stock Presidio on a labelled synthetic set
.PHONY: demo test setup bench eval-pii

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/ingest demo

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python -m benchmarks bench

eval-pii: setup
	.venv/bin/python -m benchmarks eval-pii
