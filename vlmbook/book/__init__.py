"""Build tooling of the book: the generator API, its cache and the MkDocs hooks.

Figure and table generators under ``snippets/`` import the decorators from
here. ``mkdocs.yml`` loads ``vlmbook/book/hooks.py`` as MkDocs hooks, and the
site tests use ``vlmbook.book.pages`` to find the code blocks of each page.
"""

from vlmbook.book.outputs import LANGUAGES, check_claims, figure, markdown

__all__ = ["LANGUAGES", "check_claims", "figure", "markdown"]
