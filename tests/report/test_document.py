"""The two renderings of a report: one HTML page that needs no other file, and markdown that
links PNGs saved next to it."""
from __future__ import annotations

import base64
import re

import pandas as pd
from matplotlib.figure import Figure

from trade_pipeline.report.document import Document, Plot, Section, Table, to_html, to_markdown


def _document() -> Document:
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1], [1, 0])
    table = Table(pd.DataFrame({"model": ["a|b", "<c>"], "top-1": ["90.00", "-"]}), "Table 2 analog")
    return Document("Run", ["Teacher `cnn` & friends."],
                    [Section("Search results", ["Best <b>not</b> bold.", table, Plot("progress", figure, "Fig. 7")])])


def test_the_html_page_inlines_every_figure_and_escapes_the_text():
    page = to_html(_document())
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(data).startswith(b"\x89PNG")
    fetched = re.findall(r'(?:src|href)="([^"#][^"]*)"', page)
    assert fetched == [f"data:image/png;base64,{data}"]  # nothing else to fetch
    assert "<code>cnn</code> &amp; friends" in page and "Best &lt;b&gt;not&lt;/b&gt; bold." in page
    assert '<h2 id="search-results">Search results</h2>' in page and 'href="#search-results"' in page
    assert "<td>&lt;c&gt;</td>" in page


def test_the_markdown_twin_links_each_figure_in_its_folder_and_escapes_table_pipes():
    markdown = to_markdown(_document(), "figures")
    assert "![progress](figures/progress.png)" in markdown
    assert "| model | top-1 |\n| --- | --- |\n| a\\|b | 90.00 |\n| <c> | - |" in markdown
    assert markdown.startswith("# Run\n\nTeacher `cnn` & friends.\n\n## Search results\n")


def test_a_document_lists_its_figures_by_file_name():
    assert list(_document().figures()) == ["progress"]
