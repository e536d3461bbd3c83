"""The one ``defs`` that ``workspace.yaml`` loads, merged from one module per concern."""

import dagster as dg

from pipelines.defs.dbt import defs as dbt_defs
from pipelines.defs.exports import defs as exports_defs
from pipelines.defs.ingestion import defs as ingestion_defs
from pipelines.resources import itsm_resource

defs = dg.Definitions.merge(
    ingestion_defs,
    dbt_defs,
    exports_defs,
    dg.Definitions(resources={"itsm": itsm_resource()}),
)
