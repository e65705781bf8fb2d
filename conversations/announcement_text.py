"""Manager-written announcement text: a tiny template language, checked before it is stored.

Only `{{ first_name }}`, `{{ programme }}` and `{{ partner }}` are allowed. The template's
syntax tree is checked first (plain names only: no attributes, calls, filters, operators,
loops); rendering then runs in Jinja2's immutable sandbox with `*`/`**` intercepted, every
attribute denied, undefined names strict, and the result capped in size. Defence in depth:
the check alone already refuses `{{ ''.__class__ }}` and `{{ 'a' * 10**7 }}`.

The template is lexed (flat, no recursion) before it is parsed: a field holds a name and
nothing else, so an expression of more than a few tokens, or any `{% … %}` statement, is
refused there. Jinja2's parser recurses once per nesting level, so `{{ ((((…)))) }}` would
otherwise end in a RecursionError instead of an answer.
"""
from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIELDS = ("first_name", "programme", "partner")
MAX_TEMPLATE = 2000
MAX_RENDERED = 4000
MAX_FIELD_TOKENS = 8  # `{{ first_name }}` lexes to 5 tokens with its whitespace


class TextRefused(Exception):
    """Why a manager's text cannot be used; `code` picks the explanation template."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "//", "%"})

    def call_binop(self, context, operator, left, right):
        raise SecurityError(f"operator {operator} is not allowed")

    def is_safe_attribute(self, obj, attr, value) -> bool:
        return False

    def is_safe_callable(self, obj) -> bool:
        return False


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False)


def check(template: str) -> None:
    if not template.strip():
        raise TextRefused("empty")
    if len(template) > MAX_TEMPLATE:
        raise TextRefused("too_long", str(MAX_TEMPLATE))
    try:
        _check_tokens(template)
        tree = _ENV.parse(template)
    except TemplateSyntaxError as error:
        raise TextRefused("syntax", str(error.message or "")[:80]) from None
    except RecursionError:  # not reachable after the token check; never a traceback anyway
        raise TextRefused("not_allowed", "( … )") from None
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            raise TextRefused("not_allowed", "{% … %}")
        for part in node.nodes:
            if isinstance(part, nodes.TemplateData):
                continue
            if isinstance(part, nodes.Name) and part.name in FIELDS:
                continue
            if isinstance(part, nodes.Name):
                raise TextRefused("unknown_field", part.name[:40])
            raise TextRefused("not_allowed", type(part).__name__)


def _check_tokens(template: str) -> None:
    """Refuse statements and long expressions before the (recursive) parser sees them."""
    tokens = 0
    for _, kind, _ in _ENV.lex(template):
        if kind in ("block_begin", "line_statement_begin"):
            raise TextRefused("not_allowed", "{% … %}")
        if kind == "variable_begin":
            tokens = 0
        elif kind != "data":
            tokens += 1
            if tokens > MAX_FIELD_TOKENS:
                raise TextRefused("not_allowed", "{{ … }}")


@lru_cache(maxsize=32)
def _checked(template: str):
    """Checked and compiled once per text: an announcement to 10,000 people is one text.
    (A refused text raises every time; only a text that passed is kept.)"""
    check(template)
    return _ENV.from_string(template)


def render(template: str, *, first_name: str, programme: str, partner: str) -> str:
    compiled = _checked(template)
    try:
        text = compiled.render(first_name=first_name, programme=programme, partner=partner)
    except (SecurityError, UndefinedError) as error:
        raise TextRefused("not_allowed", type(error).__name__) from None
    if len(text) > MAX_RENDERED:
        raise TextRefused("too_long", str(MAX_RENDERED))
    return text
