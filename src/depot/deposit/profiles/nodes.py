"""A compiled profile: a tree of nodes that turns one specimen's template context into metadata values.

Rules, in the order they apply:

- an empty result (``""``, None, ``[]``, ``{}``) is dropped: its key or list item is left out;
- a missing term drops the innermost list item it occurs in, else the key it is the value of;
  for a top-level field listed in ``required`` it becomes a problem instead;
- ``when`` (an expression) keeps a value or list item only if true; ``for_each`` (inside lists only)
  repeats an item for every element of an expression, bound to ``item`` (or the name in ``as``);
- equal items of one list are kept once;
- any other failure (a filter that rejects a value, a sandbox violation) is a problem naming the field.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, Undefined

from depot.deposit.profiles.environment import MissingTermError

Context = Mapping[str, Any]


class _Dropped:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Dropped()  # the value of something left out


class EvaluationError(Exception):
    """A template or expression failed for another reason than a missing term; ``path`` names it."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(f"{path}: {type(cause).__name__}: {cause}")
        self.path = path
        self.cause = cause


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and not value)


@dataclass
class Node(ABC):
    path: str  # where the node sits in the profile, e.g. "metadata.keywords[2]"

    @abstractmethod
    def value(self, context: Context, inside_item: bool) -> Any:
        """The node's value, or DROP; raises MissingTermError or EvaluationError."""

    def contexts(self, context: Context) -> Iterator[Context]:
        """The contexts a list evaluates this node in: once, unless the node has ``for_each``."""
        yield context


@dataclass
class Literal(Node):
    literal: Any = None

    def value(self, context: Context, inside_item: bool) -> Any:
        return DROP if _is_empty(self.literal) else self.literal


def _only(names: tuple[str, ...], context: Context) -> dict[str, Any]:
    # jinja copies everything it is given into each render's context; a template reads a few names
    # (known at load time), not the specimen's forty-odd terms
    return {name: context[name] for name in names if name in context}


@dataclass
class Text(Node):
    template: Template | None = None
    names: tuple[str, ...] = ()  # the context names the template reads

    def value(self, context: Context, inside_item: bool) -> Any:
        assert self.template is not None
        try:
            text = str(self.template.render(_only(self.names, context))).strip()
        except MissingTermError:
            raise
        except Exception as exc:  # user templates can fail in any way; one specimen must not stop the run
            raise EvaluationError(self.path, exc) from exc
        return text or DROP


@dataclass
class Expression(Node):
    function: Callable[..., Any] | None = None
    names: tuple[str, ...] = ()  # as for Text

    def raw(self, context: Context) -> Any:
        assert self.function is not None
        try:
            return self.function(**_only(self.names, context))
        except MissingTermError:
            raise
        except Exception as exc:  # as for Text
            raise EvaluationError(self.path, exc) from exc

    def value(self, context: Context, inside_item: bool) -> Any:
        result = self.raw(context)
        if isinstance(result, Undefined):
            raise MissingTermError(getattr(result, "_undefined_name", None) or "?")
        return DROP if _is_empty(result) else result

    def holds(self, context: Context) -> bool:
        try:
            return bool(self.raw(context))
        except MissingTermError:
            return False


@dataclass
class Table(Node):
    children: dict[str, Node] = field(default_factory=dict)

    def value(self, context: Context, inside_item: bool) -> Any:
        out: dict[str, Any] = {}
        for name, child in self.children.items():
            try:
                result = child.value(context, inside_item)
            except MissingTermError:
                if inside_item:
                    raise  # a list item missing one of its parts is dropped whole
                continue
            if result is not DROP:
                out[name] = result
        return out or DROP


@dataclass
class Array(Node):
    children: list[Node] = field(default_factory=list)

    def value(self, context: Context, inside_item: bool) -> Any:
        out: list[Any] = []
        for child in self.children:
            for item_context in child.contexts(context):
                try:
                    result = child.value(item_context, True)
                except MissingTermError:
                    continue
                if result is not DROP and result not in out:
                    out.append(result)
        return out or DROP


@dataclass
class Conditional(Node):
    inner: Node | None = None
    when: Expression | None = None
    for_each: Expression | None = None
    loop_name: str = "item"

    def contexts(self, context: Context) -> Iterator[Context]:
        if self.for_each is None:
            yield context
            return
        try:
            items = self.for_each.raw(context)
            if isinstance(items, str):
                items = [items]
            elements = list(items) if items is not None else []
        except MissingTermError:
            return
        for element in elements:
            yield {**context, self.loop_name: element}

    def value(self, context: Context, inside_item: bool) -> Any:
        assert self.inner is not None
        if self.when is not None and not self.when.holds(context):
            return DROP
        return self.inner.value(context, inside_item)


def evaluate_fields(fields: Mapping[str, Node], context: Context,
                    required: frozenset[str]) -> tuple[dict[str, Any], list[str]]:
    """The metadata object for one context, and the problems met while building it."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, node in fields.items():
        try:
            result = node.value(context, False)
        except MissingTermError as exc:
            if name in required:
                problems.append(f"{name}: needs term {exc.name!r}, which this specimen does not have")
            continue
        except EvaluationError as exc:
            problems.append(str(exc))
            continue
        if result is DROP:
            if name in required:
                problems.append(f"{name}: came out empty")
            continue
        out[name] = result
    return out, problems
