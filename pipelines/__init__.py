"""Dagster orchestration of the platform: inbox ingestion, the dbt models and compliance exports.

Dagster stays thin: the work itself lives in ``ingest/``, ``dbt/`` and
``operational/exports/service.py``. ``pipelines.definitions.defs`` is loaded by ``workspace.yaml``.
"""
