"""The model classes a saved model may name, registered where each class is defined.

:func:`~mfrec.models.persistence.load_model` instantiates only a class found here, by the
``"model"`` field of ``model.json``, so a model file cannot make mfrec import or run anything
else; ``save_model`` refuses a model whose class is not here. Importing :mod:`mfrec.models`
(which any import of a module under it does first) defines, and so registers, every model.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", bound=type)

_CLASSES: dict[str, type] = {}


def registered(cls: T) -> T:
    """Class decorator: models of ``cls`` can be saved and loaded back by its name."""
    _CLASSES[cls.__name__] = cls
    return cls


def registered_class(name: str) -> type | None:
    """The registered class called ``name``; None for any other name."""
    return _CLASSES.get(name)


def registered_names() -> set[str]:
    """The names of every registered model class."""
    return set(_CLASSES)
