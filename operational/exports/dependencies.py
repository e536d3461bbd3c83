from typing import Annotated

from fastapi import Depends

from operational.auth.dependencies import require
from operational.core.db import DbSession
from operational.exports import service
from operational.exports.models import Export


def _current_export(export_id: int, session: DbSession, _user=require("export:read")) -> Export:
    return service.get_export(session=session, export_id=export_id)


CurrentExport = Annotated[Export, Depends(_current_export)]
