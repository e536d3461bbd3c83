"""Article bodies are Markdown rendered safely: raw HTML is text, scripts never run, links
only go to http, https and mailto."""

from html.parser import HTMLParser

import pytest

from operational.knowledge.rendering import plain_text, render_html

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![x](javascript:alert(2))",
    '<a href="https://evil.example" onclick="steal()">x</a>',
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
    "<iframe src=https://evil.example></iframe>",
    "[v](vbscript:msgbox)",
    "[x](JaVaScRiPt:alert(3))",
    '[t](https://ok.example "title" onmouseover=alert(1))',
]
SAFE_SCHEMES = ("http:", "https:", "mailto:")


class Elements(HTMLParser):
    """Every element and attribute of a fragment, as a browser's parser would find them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def test_the_checker_sees_what_a_browser_would_run():
    found = elements('<p><a href="javascript:x" onclick="y">a</a><script>z</script></p>')
    assert [tag for tag, _ in found] == ["p", "a", "script"]
    assert found[1][1] == {"href": "javascript:x", "onclick": "y"}


@pytest.mark.parametrize("markdown", HOSTILE)
def test_hostile_bodies_render_inert(markdown):
    for tag, attributes in elements(render_html(markdown)):
        assert tag not in {"script", "iframe", "object", "embed", "style"}
        assert not [name for name in attributes if name.startswith("on")]
        for name in ("href", "src"):
            if attributes.get(name) is not None:
                assert attributes[name].lower().startswith(SAFE_SCHEMES), attributes


def test_markdown_renders_with_safe_links_and_tables():
    html = render_html(
        "# Steps\n\n1. Open **Settings**\n2. Run `ipconfig /flushdns`\n\n"
        "[Portal](https://portal.example) | mail: <mailto:desk@example.com>\n\n"
        "| a | b |\n|:-|-:|\n| 1 | 2 |\n"
    )
    assert "<h1>Steps</h1>" in html
    assert "<strong>Settings</strong>" in html and "<code>ipconfig /flushdns</code>" in html
    assert '<a href="https://portal.example" rel="noopener noreferrer nofollow">Portal</a>' in html
    assert 'href="mailto:desk@example.com"' in html
    assert '<th style="text-align:left">a</th>' in html


def test_raw_html_is_shown_as_text():
    assert "&lt;b&gt;bold&lt;/b&gt;" in render_html("<b>bold</b> inline")


def test_plain_text_drops_the_syntax():
    assert plain_text("# Title\n\nSome **bold** and `code`.\n\n```\nblock\n```") == (
        "Title Some bold and code . block"
    )


def test_the_api_serves_the_rendered_body(kb):
    article = kb.write(body="Hello <script>alert(1)</script> **there**")
    shown = kb.get(article).json()
    assert shown["body"] == "Hello <script>alert(1)</script> **there**"
    assert shown["body_html"] == (
        "<p>Hello &lt;script&gt;alert(1)&lt;/script&gt; <strong>there</strong></p>\n"
    )
