# Conveniences over dev.py, which needs only Python 3.11+.
.PHONY: up test lint bench
up:
	python3 dev.py up
test:
	python3 dev.py test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
