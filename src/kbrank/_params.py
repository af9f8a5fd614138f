"""`clone`: a new, unfitted object with the same constructor parameters (scikit-learn's habit).

kbrank's constructors store each parameter unchanged under its own name, so a template can be cloned by
reading its parameters back. `Searcher.build` clones the indexes and personalizer it is given, so a template
passed in is never fitted or changed.
"""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

__all__ = ["clone", "get_params"]

T = TypeVar("T")


def get_params(obj: Any) -> dict[str, Any]:
    """The constructor parameters of ``obj``, read from the attributes of the same names."""
    signature = inspect.signature(type(obj).__init__)
    names = [p.name for p in signature.parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return {name: getattr(obj, name) for name in names}


def clone(obj: T) -> T:
    """A new object of the same class built with the same parameters (fitted state is not copied)."""
    signature = inspect.signature(type(obj).__init__)
    params = get_params(obj)
    positional = [params.pop(p.name) for p in signature.parameters.values()
                  if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    return type(obj)(*positional, **params)
