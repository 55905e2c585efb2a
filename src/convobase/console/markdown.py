"""Markdown for user-written messages, rendered safely.

CommonMark with raw HTML off (``<script>`` shows as text), images off (no remote loads), and
links only to http, https and mailto; every link opens without a referrer or an opener. Code
blocks come in the same frame as a message's code parts (templates/_parts.html): a
``figure.code`` with the fence's language, when given, as its caption.
"""

from __future__ import annotations

import json
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

_ALLOWED_SCHEMES = ("http:", "https:", "mailto:")


def _safe_link(url: str) -> bool:
    lowered = url.strip().lower()
    return lowered.startswith(_ALLOWED_SCHEMES)


def _link_open(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    tokens[idx].attrSet("target", "_blank")
    return renderer.renderToken(tokens, idx, options, env)


def _framed_code(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    html = (
        renderer.fence(tokens, idx, options, env)
        if token.type == "fence"
        else renderer.code_block(tokens, idx, options, env)
    )
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    caption = f"<figcaption>{escapeHtml(language)}</figcaption>" if language else ""
    return f'<figure class="code">{caption}{html}</figure>\n'


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False})
    md.disable("image")
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("fence", _framed_code)
    md.add_render_rule("code_block", _framed_code)
    return md


_MD = _build()


def render(text: Any) -> Markup:
    """HTML for ``text``; anything markdown-it does not turn into markup is escaped by it."""
    return Markup(_MD.render(str(text or "")))  # noqa: S704 - markdown-it escapes; html off


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


# What templates/_parts.html needs from its environment: the console's and the public share
# page's environments both install these, so a message renders the same on both.
MESSAGE_FILTERS = {"markdown": render, "tojson_pretty": pretty_json}
