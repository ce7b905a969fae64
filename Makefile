# The two commands. Both set everything up first (idempotent) and then:
#   make demo   runs the bundled sample corpus through the whole pipeline and queries it
#   make test   runs the test suite (all but the `extended` end-to-end tests; `make test-all` runs those too)
# Tooling (not part of the tests; each takes a while), see benchmarks/README.md:
#   make bench     generates a seeded corpus, runs it through the pipeline and prints a table
#   make eval-pii  scores the redaction against stock Presidio on a labelled synthetic set
.PHONY: demo test test-all setup bench eval-pii

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/ingest demo

# The suite runs on one worker per core (at most four: each end-to-end test loads the models), a test
# file on one worker so that its module fixtures run once; the slowest files are handed out first.
PYTEST = .venv/bin/python -m pytest -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

test: setup
	$(PYTEST) -m "not extended"

test-all: setup
	$(PYTEST)

bench: setup
	.venv/bin/python -m benchmarks bench

eval-pii: setup
	.venv/bin/python -m benchmarks eval-pii
