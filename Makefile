# The two commands. Both set everything up first (idempotent) and then:
#   make demo   runs the bundled sample corpus through the whole pipeline and queries it
#   make test   runs the test suite
.PHONY: demo test setup

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/ingest demo

test: setup
	.venv/bin/python -m pytest
