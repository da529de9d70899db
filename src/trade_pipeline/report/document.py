"""A report as data (sections of paragraphs, tables and figures) and its two renderings: one
HTML page with every figure inlined as a base64 PNG, so it opens anywhere (an MLflow artifact,
an e-mail attachment), and markdown that links the PNG files saved next to it.

Paragraphs are plain text in which `backticks` mark code, as in markdown.
"""
from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.text_tables import markdown_table


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # cells already formatted as text
    caption: str


@dataclass(frozen=True)
class Plot:
    name: str  # the PNG's file stem next to the markdown
    figure: Figure
    caption: str


Block = str | Table | Plot


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


@dataclass
class Document:
    title: str
    intro: list[str]
    sections: list[Section]

    def figures(self) -> dict[str, Figure]:
        """Every figure by its file stem."""
        return {block.name: block.figure for section in self.sections for block in section.blocks
                if isinstance(block, Plot)}


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; } p.caption, figcaption { font-weight: 600; margin-bottom: 0.2em; }
figure { margin: 0.5em 0 2em; } img { max-width: 100%; height: auto; }
code { background: #f3f3f3; padding: 0 0.2em; border-radius: 3px; }
nav a { margin-right: 1em; }
"""


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_block(block: Block) -> str:
    if isinstance(block, Table):
        return f'<p class="caption">{_inline(block.caption)}</p>\n' + block.frame.to_html(index=False, border=0)
    if isinstance(block, Plot):
        data = base64.b64encode(png_bytes(block.figure)).decode("ascii")
        return (f'<figure><figcaption>{_inline(block.caption)}</figcaption>'
                f'<img alt="{html.escape(block.caption)}" src="data:image/png;base64,{data}"></figure>')
    return f"<p>{_inline(block)}</p>"


def to_html(document: Document) -> str:
    """One page, no external resources."""
    nav = " ".join(f'<a href="#{section.anchor}">{html.escape(section.title)}</a>' for section in document.sections)
    body = [f"<h1>{html.escape(document.title)}</h1>", *(f"<p>{_inline(text)}</p>" for text in document.intro),
            f"<nav>{nav}</nav>"]
    for section in document.sections:
        body.append(f'<h2 id="{section.anchor}">{html.escape(section.title)}</h2>')
        body.extend(_html_block(block) for block in section.blocks)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(document.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _markdown_block(block: Block, figure_folder: str) -> str:
    if isinstance(block, Table):
        return f"**{block.caption}**\n\n{markdown_table(block.frame)}"
    if isinstance(block, Plot):
        return f"**{block.caption}**\n\n![{block.name}]({figure_folder}/{block.name}.png)"
    return block


def to_markdown(document: Document, figure_folder: str) -> str:
    """The same content; figures link ``<figure_folder>/<name>.png``, relative to the markdown file."""
    parts = [f"# {document.title}", *document.intro]
    for section in document.sections:
        parts.append(f"## {section.title}")
        parts.extend(_markdown_block(block, figure_folder) for block in section.blocks)
    return "\n\n".join(parts) + "\n"
