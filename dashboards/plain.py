"""User-written text on elements that render Markdown (captions, info boxes, expander labels).

Streamlit renders the text of ``st.markdown``, ``st.caption``, ``st.info`` and their kin as
Markdown (with its own extensions: ``:red[...]`` colours, ``:material/icon:``, ``$LaTeX$``).
Text that someone else wrote (a display name, a team or service name, a value from a shared
link, an error message quoting input) must show as written, not as a link, a heading or a
coloured banner: ``plain`` escapes every Markdown character of it and folds it onto one line.
The dashboards' tables (``st.dataframe``) and charts show values as text already.
"""

import string

_PUNCTUATION = frozenset(string.punctuation)


def plain(value: object) -> str:
    """``value`` as Markdown source that renders to exactly its text, on one line."""
    text = " ".join(str(value).split())
    return "".join("\\" + char if char in _PUNCTUATION else char for char in text)
