"""One registry of content-block kinds: for each kind, what streams, the partial that shows it, its
Markdown export, its replay rule and its label, declared once (kind.py says what each means).

Adding a kind: declare it in a module here and list it in KINDS (a kind narrowing a type that
others share goes before them), and write its partial in templates/conversations/blocks/.
Standard library only: the pure request builder (reply/anthropic_request.py) reads it.
"""

from conversations.blocks import code, files, mcp, text, tools, web
from conversations.blocks.kind import Kind, markdown_fallback

KINDS: tuple[Kind, ...] = (*text.KINDS, *mcp.KINDS, *tools.KINDS, *files.KINDS, *code.KINDS, *web.KINDS)
UNKNOWN = Kind("", {}, partial="unknown", label="Block", markdown=markdown_fallback)

_BY_TYPE: dict[str, list[Kind]] = {}
for _kind in KINDS:
    _BY_TYPE.setdefault(_kind.type, []).append(_kind)

TYPES = tuple(_BY_TYPE)  # every block type this app stores
REPLAYED = tuple(k.type for k in KINDS if k.replayed)  # results the API made: sent back verbatim


def kind_of(block: dict) -> Kind:
    """The kind of an API-shaped block (a payload); UNKNOWN for a type this app does not know."""
    for kind in _BY_TYPE.get(block.get("type"), ()):
        if kind.matches(block):
            return kind
    return UNKNOWN


def markdown(block: dict, sources) -> str:
    """The block in the Markdown export; `sources` numbers the reply's citations."""
    return kind_of(block).markdown(block, sources)


def partial(block: dict) -> str:
    """The template that shows the block."""
    return f"conversations/blocks/{kind_of(block).partial}.html"
