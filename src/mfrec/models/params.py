"""Declarative hyper-parameters: one spec per model, everything else derived from it.

A model lists its hyper-parameters once, as ``param_spec``: a tuple of :class:`Param`
(name, type, allowed range or choices, default, one line of doc, the range ``tune``
searches and any old names). The constructor keeps its explicit, typed signature
(IDEs and ``help()`` read it) and stays a plain list of assignments; the default
of each :class:`Param` is taken from that signature, and a class whose signature
and spec disagree fails at import. From the spec follow:

- validation on construction, ``set_params`` and ``fit`` (:meth:`Parametrized.check_params`):
  one generic checker, errors are :class:`~mfrec.exceptions.ParameterError` naming
  the parameter, the value and what is allowed;
- ``get_params(deep=True)`` / ``set_params(**params)`` in scikit-learn's contract, so
  ``sklearn.base.clone(model)`` works (scikit-learn is not a dependency);
- the CLI's ``-p NAME=VALUE`` (:func:`parse_assignments`, typed from the spec);
- ``tune``'s default search space (:func:`search_space`);
- the table in ``docs/PARAMETERS.md`` (:func:`parameters_markdown`).

Old parameter names (``aliases``) still work: in constructors and ``set_params`` with
a :class:`DeprecationWarning`, and silently when a saved model is loaded
(:func:`upgrade_params`).

Examples
--------
>>> from mfrec.models import MatrixFactorization
>>> MatrixFactorization(n_factors=0)
Traceback (most recent call last):
...
mfrec.exceptions.ParameterError: MatrixFactorization: n_factors must be an int >= 1, got 0
>>> [p.name for p in MatrixFactorization.param_spec][:3]
['n_factors', 'n_epochs', 'learning_rate']
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from mfrec._validation import unknown_parameter
from mfrec.exceptions import ParameterError

_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()

#: How ``-p`` spells a boolean.
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_NONE = ("none", "null")


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyper-parameter: name, type, allowed values, default, doc and the range ``tune`` searches.

    ``low`` / ``high`` bound numbers (inclusive unless ``low_open`` / ``high_open``); either
    may name another parameter (``high="n_epochs"``) for a bound that depends on it.
    ``optional`` admits None (which each model documents: "derived", "all cores", ...).
    ``search`` is the default ``tune`` space: a list of choices, or ``(low, high, kind)``
    with kind ``"log"`` (log-uniform), ``"int"`` or ``"float"``.
    """

    name: str
    kind: type
    doc: str
    low: float | str | None = None
    high: float | str | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    optional: bool = False
    search: Any = None
    aliases: tuple[str, ...] = ()
    default: Any = _MISSING

    def but(self, **changes: Any) -> Param:
        """A copy with some fields changed: ``N_FACTORS.but(search=[8, 16])``."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ checking

    def allowed(self, params: Mapping[str, Any] | None = None) -> str:
        """What this parameter accepts, in words ("an int >= 1", "one of 'item', 'user'")."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind is bool:
            text = "True or False"
        else:
            text = {int: "an int", float: "a finite number", str: "a string"}.get(self.kind, self.kind.__name__)
            bounds = [
                f"{sign} {self._bound(bound, params)}"
                for bound, sign in (
                    (self.low, ">" if self.low_open else ">="),
                    (self.high, "<" if self.high_open else "<="),
                )
                if bound is not None
            ]
            if bounds:
                text += " " + " and ".join(bounds)
        return text + (" or None" if self.optional else "")

    @staticmethod
    def _bound(bound: float | str, params: Mapping[str, Any] | None) -> str:
        if isinstance(bound, str):
            return bound if params is None else f"{bound} ({params.get(bound)!r})"
        return f"{bound:g}"

    def check(self, value: Any, params: Mapping[str, Any]) -> None:
        """Raise ParameterError unless ``value`` is allowed (``params``: the other values, for linked bounds)."""
        if value is None and self.optional:
            return
        if not self._valid(value, params):
            raise ParameterError(f"{self.name} must be {self.allowed(params)}, got {value!r}")

    def _valid(self, value: Any, params: Mapping[str, Any]) -> bool:
        if self.choices is not None:
            return not isinstance(value, bool) and isinstance(value, (str, numbers.Number)) and value in self.choices
        if self.kind is bool:
            return isinstance(value, bool) or type(value).__name__ == "bool_"
        if self.kind is str:
            return isinstance(value, str)
        number = numbers.Integral if self.kind is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            return False
        low, high = _limit(self.low, params), _limit(self.high, params)
        if low is not None and (value <= low if self.low_open else value < low):
            return False
        return high is None or (value < high if self.high_open else value <= high)

    def parse(self, text: str) -> Any:
        """The value of a ``-p NAME=TEXT`` assignment, typed by the spec (checked later, with the others)."""
        stripped = text.strip()
        if self.optional and stripped.lower() in _NONE:
            return None
        try:
            if self.kind is bool:
                if stripped.lower() in _TRUE + _FALSE:
                    return stripped.lower() in _TRUE
                raise ValueError
            if self.kind is int:
                return int(stripped)
            if self.kind is float:
                return float(stripped)
        except ValueError:
            raise ParameterError(f"-p {self.name}={text}: {self.name} must be {self.allowed()}") from None
        return stripped


def _limit(bound: float | str | None, params: Mapping[str, Any]) -> float | None:
    """A bound's value: a number, or the value of the parameter it names (None while that one is invalid)."""
    limit = params.get(bound) if isinstance(bound, str) else bound
    return limit if isinstance(limit, numbers.Real) and not isinstance(limit, bool) else None


# ---------------------------------------------------------------------- the mixin


class Parametrized:
    """Mixin: hyper-parameters declared in ``param_spec``, checked, read and set in scikit-learn's contract."""

    #: The model's hyper-parameters, in declaration order (defaults filled from the signature).
    param_spec: ClassVar[tuple[Param, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__ or "param_spec" in cls.__dict__:
            cls.param_spec = _resolve(cls)
        if "__init__" in cls.__dict__:
            cls.__init__ = _checked_init(cls, cls.__dict__["__init__"])  # type: ignore[method-assign]

    @classmethod
    def param_names(cls) -> list[str]:
        """The hyper-parameter names, in declaration order."""
        return [p.name for p in cls.param_spec]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as given (``deep`` is accepted for scikit-learn; mfrec models nest none)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set hyper-parameters by name and return ``self``; an invalid value leaves the model unchanged.

        >>> from mfrec.models import ALS
        >>> ALS().set_params(n_factors=8).n_factors
        8
        """
        params = _rename(type(self), params, warn=True, stacklevel=3)
        valid = self.param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise unknown_parameter(type(self).__name__, unknown[0], valid)
        before = self.get_params()
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self.check_params()
        except ParameterError:
            for name, value in before.items():
                setattr(self, name, value)
            raise
        return self

    def check_params(self) -> None:
        """Raise ParameterError naming the first hyper-parameter whose value the spec does not allow."""
        values = self.get_params()
        for param in self.param_spec:
            try:
                param.check(values[param.name], values)
            except ParameterError as exc:
                raise ParameterError(f"{type(self).__name__}: {exc}") from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def _resolve(cls: type) -> tuple[Param, ...]:
    """The spec with defaults from ``cls.__init__``; TypeError when the two disagree (a bug in the model)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    signature = {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind in kinds
    }
    spec = {p.name: p for p in cls.__dict__.get("param_spec", cls.param_spec)}  # type: ignore[attr-defined]
    if set(spec) != set(signature):
        raise TypeError(
            f"{cls.__name__}: param_spec and __init__ disagree; not in the spec: {sorted(set(signature) - set(spec))}, "
            f"not in __init__: {sorted(set(spec) - set(signature))}"
        )
    resolved = []
    for name, param in spec.items():
        default = signature[name]
        if param.default is not _MISSING and param.default != default:
            raise TypeError(f"{cls.__name__}.{name}: spec default {param.default!r} != __init__ default {default!r}")
        param = param.but(default=default, optional=param.optional or default is None)
        if default is not inspect.Parameter.empty:
            param.check(default, signature)
        resolved.append(param)
    return tuple(resolved)


def _checked_init(cls: type, init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **_rename(cls, kwargs, warn=True, stacklevel=3))
        # A subclass's __init__ calling this one checks once, at its own end.
        if type(self).__init__ is __init__:
            self.check_params()

    return __init__


def _rename(cls: type, params: Mapping[str, Any], *, warn: bool, stacklevel: int = 3) -> dict[str, Any]:
    old = {alias: p.name for p in cls.param_spec for alias in p.aliases}  # type: ignore[attr-defined]
    renamed: dict[str, Any] = {}
    for name, value in params.items():
        if name in old:
            if warn:
                warnings.warn(
                    f"{cls.__name__}: parameter {name!r} is now {old[name]!r}; the old name will be removed",
                    DeprecationWarning,
                    stacklevel=stacklevel,
                )
            if old[name] in params:
                raise ParameterError(f"{cls.__name__}: {name!r} and {old[name]!r} are the same parameter; give one")
            name = old[name]
        renamed[name] = value
    return renamed


def upgrade_params(cls: type, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with old names (a model saved before a rename) replaced by the current ones, silently."""
    return _rename(cls, params, warn=False)


# ---------------------------------------------------------------------- derived uses


def parse_assignments(cls: type, pairs: Iterable[str]) -> dict[str, Any]:
    """``["n_factors=64", "solver=cg"]`` -> typed values, by ``cls``'s spec (the CLI's ``-p``).

    >>> from mfrec.models import ALS
    >>> parse_assignments(ALS, ["n_factors=64", "biased=false", "n_threads=none"])
    {'n_factors': 64, 'biased': False, 'n_threads': None}
    """
    spec = {p.name: p for p in cls.param_spec}  # type: ignore[attr-defined]
    spec.update({alias: p for p in spec.copy().values() for alias in p.aliases})
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep:
            raise ParameterError(f"-p expects NAME=VALUE, got {pair!r}")
        if name not in spec:
            raise unknown_parameter(cls.__name__, name, [p.name for p in cls.param_spec])  # type: ignore[attr-defined]
        values[name] = spec[name].parse(text)
    return values


def search_space(cls: type) -> dict[str, Any]:
    """The default ``tune`` space of a model: each parameter's ``search`` range, in spec order."""
    return {p.name: p.search for p in cls.param_spec if p.search is not None}  # type: ignore[attr-defined]


def parameters_markdown(models: Mapping[str, type]) -> str:
    """The ``docs/PARAMETERS.md`` table of every model's hyper-parameters."""
    lines = [
        "# Hyper-parameters",
        "",
        "Generated from each model's `param_spec` (`src/mfrec/models/params.py`); do not edit by hand. Regenerate with",
        '`PYTHONPATH=src python -c "from mfrec.models import write_parameters_doc; write_parameters_doc()"`.',
        "",
        "Set them in Python (`ALS(n_factors=32)`, `model.set_params(...)`) or on the command line",
        "(`mfrec train ... -m als -p n_factors=32`). *tune searches* is the default space of `mfrec tune`:",
        "a list of choices, or a range sampled log-uniformly (log), uniformly (float) or as integers (int).",
    ]
    for cli_name, cls in models.items():
        lines += ["", f"## `{cli_name}`: {cls.__name__}", ""]
        if not cls.param_spec:  # type: ignore[attr-defined]
            lines.append("No hyper-parameters.")
            continue
        lines += ["| name | type | default | allowed | tune searches | description |", "|---|---|---|---|---|---|"]
        for p in cls.param_spec:  # type: ignore[attr-defined]
            doc = p.doc + (f" (formerly {', '.join(f'`{a}`' for a in p.aliases)})" if p.aliases else "")
            cells = [f"`{p.name}`", p.kind.__name__, f"`{p.default!r}`", p.allowed(), _search_text(p.search), doc]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _search_text(search: Any) -> str:
    if search is None:
        return ""
    if isinstance(search, tuple):
        low, high, kind = search
        return f"{low:g} to {high:g} ({kind})"
    return ", ".join(repr(v) for v in search)


# ---------------------------------------------------------------------- shared declarations

N_FACTORS = Param("n_factors", int, "Latent dimension k.", low=1)
N_EPOCHS = Param("n_epochs", int, "Training epochs (full passes or sweeps).", low=1)
LEARNING_RATE = Param("learning_rate", float, "Step size for the factors.", low=0.0, low_open=True)
REGULARIZATION = Param("regularization", float, "L2 weight on the factors.", low=0.0)
BIAS_REGULARIZATION = Param("bias_regularization", float, "L2 weight on the biases.", low=0.0)
CONSTANT_REGULARIZATION = Param(
    "constant_regularization",
    float,
    "Added to each row's factor L2 weight, in pseudo-ratings (a floor for rows with few ratings).",
    low=0.0,
)
CONSTANT_BIAS_REGULARIZATION = Param(
    "constant_bias_regularization", float, "Added to each row's bias L2 weight, in pseudo-ratings.", low=0.0
)
INIT_STD = Param("init_std", float, "Initial factors are N(0, init_std^2).", low=0.0)
BIASED = Param("biased", bool, "False fits plain p_u . q_i (no mean, no biases).")
N_BLOCKS = Param(
    "n_blocks",
    int,
    "Grid size for parallel training; None sizes it so a block fits in L2. Results depend on it.",
    low=1,
    optional=True,
)
N_THREADS = Param("n_threads", int, "Threads for training and scoring; None: all cores.", low=0, optional=True)
RANDOM_STATE = Param("random_state", int, "Seed; None draws a fresh one every fit.", low=0, optional=True)
SOLVER = Param(
    "solver",
    str,
    "Row solve: exact Cholesky, cg_steps of warm-started conjugate gradient, or auto (CG from 32 factors up).",
    choices=("auto", "cholesky", "cg"),
)
CG_STEPS = Param("cg_steps", int, "Conjugate-gradient steps per row and epoch (solver='cg').", low=1)
RANK_BY = Param(
    "rank_by",
    str,
    "How recommend orders lists: 'pick-like' ('will pick' x 'will like', see "
    "mfrec.ranking.pick) or 'rating' (the predicted rating).",
    choices=("pick-like", "rating"),
)
THRESHOLD = Param("threshold", float, "Only values >= threshold are interactions (e.g. 4: 'liked').", optional=True)

#: The parameters of :class:`~mfrec.models.iterative.EarlyStopping`.
EARLY_STOPPING = (
    Param("early_stopping", bool, "Stop when validation RMSE has not improved for `patience` epochs."),
    Param(
        "validation_fraction",
        float,
        "Share of train held out for early stopping when fit gets no validation.",
        low=0.0,
        high=0.9,
        low_open=True,
    ),
    Param("patience", int, "Epochs without improvement before stopping.", low=1),
    Param("restore_best", bool, "Keep the best epoch's parameters rather than the last."),
)
