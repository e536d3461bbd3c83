"""One module per concern; each exposes ``defs``, merged in ``pipelines.definitions``."""
