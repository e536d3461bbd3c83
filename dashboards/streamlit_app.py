"""ITSM dashboards: the entry script. Start it with ``itsm dashboards``.

Signs the visitor in (dashboards/auth.py), draws the shared filters (dashboards/filters.py) and
routes with ``st.navigation`` to the pages in ``app_pages/``. Pages read the marts only, through
the package dashboards/queries/.
"""

from datetime import UTC, datetime

import streamlit as st

from dashboards import auth, filters, queries
from dashboards.plain import plain

st.set_page_config(
    page_title="ITSM dashboards",
    page_icon=":material/monitoring:",
    layout="wide",
    initial_sidebar_state="expanded",
)

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/sla.py", title="SLA", icon=":material/timer:"),
    st.Page(
        "app_pages/response_resolution.py",
        title="Response and resolution",
        icon=":material/speed:",
    ),
    st.Page("app_pages/fcr_csat.py", title="FCR and CSAT", icon=":material/thumb_up:"),
    st.Page("app_pages/backlog.py", title="Backlog and aging", icon=":material/inventory_2:"),
    st.Page("app_pages/teams.py", title="Team performance", icon=":material/groups:"),
    st.Page("app_pages/changes.py", title="Changes", icon=":material/published_with_changes:"),
    st.Page("app_pages/requests.py", title="Requests", icon=":material/shopping_cart:"),
    st.Page(
        "app_pages/problems_knowledge.py",
        title="Problems and knowledge",
        icon=":material/troubleshoot:",
    ),
    st.Page("app_pages/custom_fields.py", title="Custom fields", icon=":material/tune:"),
    st.Page("app_pages/compliance.py", title="Compliance", icon=":material/verified_user:"),
]

user = auth.current_user()
if user is None:
    # Register every page, hidden, so that a shared link to a page (and its filters in the URL)
    # survives the sign-in: the form shows instead of the page, which runs once signed in.
    st.navigation(PAGES, position="hidden")
    auth.login_page()
    st.stop()

today = datetime.now(UTC).date()
try:
    options = filters.FilterOptions(**queries.filter_values())
    unavailable = None
except queries.MartsUnavailable as exc:
    options, unavailable = filters.FilterOptions(), exc

st.session_state["filters"] = filters.sidebar(options, today=today)

with st.sidebar:
    st.divider()
    st.caption(f"Signed in as **{plain(user.display_name)}** ({plain(', '.join(user.roles))})")
    if st.button("Sign out", icon=":material/logout:", key="sign_out"):
        auth.sign_out()
        st.rerun()

page = st.navigation(PAGES)
if unavailable is not None:
    st.title(page.title)
    st.error(plain(unavailable), icon=":material/error:")
else:
    try:
        page.run()
    except queries.MartsUnavailable as exc:
        st.error(plain(exc), icon=":material/error:")
