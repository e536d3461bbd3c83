"""The web UI (docs/ui.md): server-rendered pages over the REST API, mounted at ``/ui/``.

It is a client of the API: every read and write goes through the API's own routes, in process,
with the signed-in user's token, so RBAC, object-level checks, validation and the workflow's
refusals are the API's. The UI keeps only the browser's session and how pages look.
"""
