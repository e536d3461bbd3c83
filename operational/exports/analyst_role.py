"""The read-only roles that ``itsm db migrate`` creates NOLOGIN (operational/core/roles.py):
``itsm_analyst`` reads schema ``marts``; ``itsm_auditor`` reads ``marts`` and ``personal`` (the
access review's personal data).

``analyst_url`` and ``auditor_url`` give the role LOGIN and a password and return a connection
URL. The password is generated once and kept in ``<ITSM_HOME>/analyst.password`` (or
``auditor.password``), mode 0600. Roles are cluster-wide: every database on the server shares
them and the password last set.
"""

from operational.core import roles
from operational.core.config import Settings
from operational.core.db import admin_database_url, libpq_url

ANALYST_ROLE = roles.ANALYST
AUDITOR_ROLE = roles.AUDITOR


def _reader_url(settings: Settings, role: str) -> str:
    """Enable login for ``role`` and return a libpq URL that connects as it."""
    admin_url = libpq_url(admin_database_url(settings))
    return roles.enable_login(admin_url, role, home=settings.home)


def analyst_url(settings: Settings) -> str:
    """The analysts' connection: the metric marts, no personal data, nothing operational."""
    return _reader_url(settings, ANALYST_ROLE)


def auditor_url(settings: Settings) -> str:
    """The auditors' connection: the marts and the personal data of schema ``personal``."""
    return _reader_url(settings, AUDITOR_ROLE)
