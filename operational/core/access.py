"""The access marker for routes that anyone may call.

It lives in core, not in auth, so that core's own routes (health) need no domain. The RBAC
matrix test finds it on every public route; auth's ``require``, ``authenticated`` and
``enrolling`` are the other markers (operational/auth/dependencies.py).
"""

from fastapi import Depends


def _public() -> None:
    return None


_public.is_public = True  # type: ignore[attr-defined]
public = Depends(_public)
