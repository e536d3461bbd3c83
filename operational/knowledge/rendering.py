"""Article bodies: Markdown in, safe HTML and plain text out.

Markdown is parsed by markdown-it (CommonMark plus tables and strikethrough) with raw HTML
turned off, so a ``<script>`` in a body is shown as text, never run. The HTML it produces is
then cleaned by nh3 (the Ammonia sanitizer) to an allow-list of tags and attributes, and links
may only be http, https or mailto: two independent locks, so a gap in one is not a hole.
"""

from functools import cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th",
    "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


def render_html(markdown: str) -> str:
    """The body as HTML that is safe to insert into a page."""
    return nh3.clean(
        _parser().render(markdown),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def plain_text(markdown: str) -> str:
    """The words a reader sees, without Markdown syntax: what search indexes and snippets
    quote."""
    parts: list[str] = []
    for token in _parser().parse(markdown):
        if token.type == "inline":
            parts.extend(
                child.content
                for child in token.children or ()
                if child.type in ("text", "code_inline")
            )
        elif token.type in ("fence", "code_block"):
            parts.append(token.content)
        elif token.type.endswith("_close") and token.block:
            parts.append("\n")
    return " ".join(" ".join(parts).split())
