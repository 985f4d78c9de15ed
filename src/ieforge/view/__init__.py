"""Results as one self-contained HTML file: highlighted spans, relations, events, triples and tables.

``render_html(read_results("out.jsonl"))`` renders the JSONL lines ``ieforge ner|re|events|openie|table
--output`` writes; the service page (``ieforge serve``) renders its answers with the same code.
"""

from ieforge.view.render import DEFAULT_LIMIT, read_results, render_fragment, render_html, render_page

__all__ = ["DEFAULT_LIMIT", "read_results", "render_fragment", "render_html", "render_page"]
