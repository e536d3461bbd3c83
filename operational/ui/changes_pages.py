"""Filled in below."""

from fastapi import APIRouter, Depends

from operational.ui.web import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
