r"""Formulas of losses and likelihoods: a whitelist parser and an overflow-free vectorised evaluator.

**Formula strings are data, not code.** :func:`parse_expression` reads a user formula with Python's
:mod:`ast` module in ``mode="eval"`` (which only builds a syntax tree) and constructs the sympy
expression node by node from a whitelist; nothing of the text is ever evaluated (no ``eval``,
``sympify`` or ``parse_expr``). A formula may contain

* the symbols ``y`` (label) and ``z`` (pre-activation or teacher field), the constants ``pi`` and ``E``;
* integer and decimal numbers (``2``, ``0.5``, ``1e-3``);
* ``+ - * / **``, unary ``-`` and ``+``, parentheses;
* calls of the functions in :data:`FUNCTIONS` with positional arguments: ``exp, log, sqrt, sin, cos,
  tan, sinh, cosh, tanh, asinh, atan, erf, erfc, log1p, expm1`` (``log1p(x)`` is ``log(1 + x)``,
  ``expm1(x)`` is ``exp(x) - 1``), and the non-smooth ``abs/Abs, max/Max, min/Min, sign, Heaviside``.

Anything else (attribute access, subscripts, names other than the above, keyword or starred arguments,
strings, lambdas, comprehensions, comparisons, ...) raises ``ValueError`` naming the offending token and
its column. Formulas longer than :data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_DEPTH`
levels are refused before any parsing work (so never a ``RecursionError``). Every number and every
numeric subexpression must be a finite double: ``10**10**10``, ``exp(2**9999)`` or ``1/0`` are refused as
soon as they appear, before sympy would spend time on them. A sympy expression
passed directly is used as it is, provided its symbols are ``y`` and ``z`` and it calls no undefined
function.

**Evaluation.** :func:`lambdify_safe` evaluates with numpy/scipy (``erf`` is ``scipy.special.erf``,
vectorised). Entries that come out NaN or inf there (an overflow such as ``exp(800)/(1 + exp(800))``, or
``inf * 0`` in a form like ``(...) * exp((z - 50)**2) * exp(-(z - 50)**2)``) are recomputed, all at once,
in a sign-and-logarithm representation ``x = s * exp(l)`` that cannot overflow: products add logarithms,
sums are scaled by their largest term. The cost is a fixed number of numpy operations per node of the
expression, whatever the number of bad entries.

**Import cost.** This module is the sympy half of :mod:`replica`: it imports sympy (a third of a second) and
defines the symbols of every formula, ``y`` and ``z`` (:data:`Y`, :data:`Z`) and the ``omega*`` and ``V*`` of
the channel integrals (:data:`OMEGA_STAR`, :data:`V_STAR`). The rest of the package imports it only inside the
functions that derive a formula (:meth:`replica.Loss.from_expr`, :attr:`replica.Loss.expr`,
:meth:`replica.Channel.Z0`, :meth:`replica.Channel.from_likelihood`, :func:`replica.equations`, the Bayes output
channel), so that the built-in losses and channels and the solver never load sympy.
"""

from __future__ import annotations

import ast
import linecache
import math
from collections.abc import Callable

import numpy as np
import sympy as sp
from scipy import special
from sympy.core.function import AppliedUndef

__all__ = ["Y", "Z", "OMEGA_STAR", "V_STAR", "FUNCTIONS", "CONSTANTS", "MAX_LENGTH", "MAX_DEPTH",
           "parse_expression", "lambdify_safe"]

#: Label and pre-activation (or teacher field) symbols used in every user formula.
Y, Z = sp.symbols("y z")
#: The centre ``omega*`` (real) and variance ``V*`` (positive) of the channel's ``Z0(y, omega*, V*)``
#: (:meth:`replica.Channel.Z0`).
OMEGA_STAR = sp.Symbol("omega_star", real=True)
V_STAR = sp.Symbol("V_star", positive=True)

#: Longest formula string accepted, in characters.
MAX_LENGTH = 2000
#: Deepest nesting accepted: brackets, function calls, powers and unary signs each add one level
#: (a long sum or product such as ``z + z + ... + z`` counts as one level).
MAX_DEPTH = 50


def _one(f):
    return (f, 1, 1)


#: Functions a formula may call: name -> (sympy builder, least and most number of arguments).
FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int, int]] = {
    "exp": _one(sp.exp), "log": _one(sp.log), "sqrt": _one(sp.sqrt),
    "sin": _one(sp.sin), "cos": _one(sp.cos), "tan": _one(sp.tan),
    "sinh": _one(sp.sinh), "cosh": _one(sp.cosh), "tanh": _one(sp.tanh),
    "asinh": _one(sp.asinh), "atan": _one(sp.atan),
    "erf": _one(sp.erf), "erfc": _one(sp.erfc),
    "log1p": _one(lambda x: sp.log(1 + x)), "expm1": _one(lambda x: sp.exp(x) - 1),
    "abs": _one(sp.Abs), "Abs": _one(sp.Abs), "sign": _one(sp.sign), "Heaviside": _one(sp.Heaviside),
    "max": (sp.Max, 2, 64), "Max": (sp.Max, 2, 64), "min": (sp.Min, 2, 64), "Min": (sp.Min, 2, 64),
}
#: Named constants a formula may use.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_GRAMMAR = ("formulas may contain y, z, numbers, + - * / **, parentheses, the constants pi and E and the "
            f"functions {', '.join(FUNCTIONS)}")

_NODE_NAMES = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.JoinedStr: "f-string", ast.FormattedValue: "f-string",
    ast.NamedExpr: "assignment expression (:=)", ast.Compare: "comparison", ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression", ast.List: "list", ast.Tuple: "tuple", ast.Set: "set",
    ast.Dict: "dict", ast.Starred: "starred argument", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slice",
}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OTHER_OPS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
              ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~", ast.Not: "not"}


class _Refused(ValueError):
    """A formula outside the whitelist (internal: re-raised with the argument name)."""


def _where(node: ast.AST, text: str) -> str:
    seg = ast.get_source_segment(text, node) or type(node).__name__
    if len(seg) > 40:
        seg = seg[:37] + "..."
    return f"{seg!r} at column {getattr(node, 'col_offset', 0) + 1}"


def _refuse(node: ast.AST, text: str, what: str) -> _Refused:
    return _Refused(f"{what} {_where(node, text)} is not allowed; {_GRAMMAR}")


def _prescan(text: str) -> None:
    """Bracket depth and runs of unary signs, measured on the characters before any parsing."""
    depth = worst = run = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            worst = max(worst, depth)
        elif ch in ")]}":
            depth -= 1
        if ch in "+-":
            run += 1
            worst = max(worst, depth + run)
        elif not ch.isspace():
            run = 0
    if worst > MAX_DEPTH:
        raise _Refused(f"the formula is nested {worst} levels deep; at most {MAX_DEPTH} are accepted")


def _chain(node: ast.AST, ops: tuple[type, ...]) -> list[tuple[type | None, ast.AST]]:
    """Flatten a left-associative chain ``a op b op c ...`` (of the given operators) without recursion."""
    items = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ops):
        items.append((type(node.op), node.right))
        node = node.left
    items.append((None, node))
    return items[::-1]


def _tree_depth(root: ast.AST) -> int:
    """Nodes on the longest root-to-leaf path (a chain of + - or of * / counts once; the called name,
    the ``Load`` context and the ``Expression`` wrapper not at all), computed without recursion."""
    worst = 0
    stack = [(root.body if isinstance(root, ast.Expression) else root, 1)]
    while stack:
        node, d = stack.pop()
        worst = max(worst, d)
        if worst > MAX_DEPTH:
            return worst
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            ops = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
            children = [child for _, child in _chain(node, ops)]
        elif isinstance(node, ast.Call):
            children = [*node.args, *node.keywords] + ([] if isinstance(node.func, ast.Name) else [node.func])
        else:
            children = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.expr_context)]
        stack.extend((child, d + 1) for child in children)
    return worst


_FLOAT_DIGITS = float(np.log10(np.finfo(float).max))


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base**exponent``, refusing a numeric power beyond double range before sympy computes it exactly
    (``10**10**10`` would take hours). Both operands are finite doubles already."""
    if base.is_number and exponent.is_number:
        b, e = abs(float(base)), float(exponent)
        if b not in (0.0, 1.0) and e * math.log10(b) > _FLOAT_DIGITS:
            raise _Refused(f"the number ({base})**({exponent}) is beyond the range of a double")
    return base**exponent


def _check_number(value: sp.Expr, node: ast.AST, text: str) -> None:
    """A numeric subexpression must be a finite real double (checked as soon as it is built)."""
    if value.has(sp.zoo, sp.oo, sp.nan) or value.has(sp.I):
        raise _Refused(f"{_where(node, text)} is not a finite real number (a division by zero or a complex value?)")
    x = complex(sp.N(value, 17))
    if x.imag != 0 or not np.isfinite(x.real):
        raise _Refused(f"{_where(node, text)} is not a finite real double")


class _Builder:
    """Builds the sympy expression of a syntax tree from the whitelist."""

    def __init__(self, text: str, symbols: dict[str, sp.Symbol]):
        self.text = text
        self.symbols = symbols

    def build(self, node: ast.AST) -> sp.Expr:
        try:
            value = self._build(node)
            if isinstance(value, sp.Expr) and value.is_number:
                _check_number(value, node, self.text)
        except _Refused:
            raise
        except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:  # sympy evaluating numbers
            raise _Refused(f"cannot evaluate {_where(node, self.text)}: {type(exc).__name__} {exc}") from None
        return value

    def _build(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return self.build(node.body)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            raise _refuse(node, self.text, f"the operator {_OTHER_OPS.get(type(node.op), '?')} in")
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _refuse(node, self.text, _NODE_NAMES.get(type(node), f"the construct {type(node).__name__}"))

    def _constant(self, node: ast.Constant) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            kind = {str: "string literal", bytes: "bytes literal", complex: "complex number",
                    bool: "boolean"}.get(type(v), f"constant of type {type(v).__name__}")
            raise _refuse(node, self.text, f"the {kind}")
        if isinstance(v, int):
            return sp.Integer(v)
        if not np.isfinite(v):
            raise _refuse(node, self.text, "the non-finite number")
        return sp.Float(v)

    def _name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.symbols:
            return self.symbols[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise _Refused(f"{node.id!r} at column {node.col_offset + 1} is a function: call it, e.g. "
                           f"{node.id}(z)")
        raise _Refused(f"unknown symbols: {node.id!r} at column {node.col_offset + 1}; use only "
                       f"{', '.join(self.symbols)} (substitute numbers for parameters); {_GRAMMAR}")

    def _binop(self, node: ast.BinOp) -> sp.Expr:
        if isinstance(node.op, ast.BitXor):
            raise _refuse(node, self.text, "the operator ^ (write powers as **) in")
        if type(node.op) not in _BINOPS:
            raise _refuse(node, self.text, f"the operator {_OTHER_OPS.get(type(node.op), '?')} in")
        if isinstance(node.op, ast.Pow):
            return _power(self.build(node.left), self.build(node.right))
        ops = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
        items = _chain(node, ops)
        out = self.build(items[0][1])
        for op, child in items[1:]:
            val = self.build(child)
            if op is ast.Add:
                out = out + val
            elif op is ast.Sub:
                out = out - val
            elif op is ast.Mult:
                out = out * val
            else:
                out = out / val
            if out.is_number:
                _check_number(out, node, self.text)
        return out

    def _call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise _refuse(node.func, self.text, "calling")
        name = node.func.id
        if name not in FUNCTIONS:
            raise _Refused(f"unknown function {name!r} at column {node.col_offset + 1}; {_GRAMMAR}")
        if node.keywords:
            raise _refuse(node.keywords[0], self.text, "the keyword argument")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _refuse(arg, self.text, "the starred argument")
        builder, low, high = FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise _Refused(f"{name} takes {want} argument(s), got {len(node.args)} at column "
                           f"{node.col_offset + 1}")
        return builder(*(self.build(a) for a in node.args))


def _parse_text(text: str, symbols: dict[str, sp.Symbol]) -> sp.Expr:
    if len(text) > MAX_LENGTH:
        raise _Refused(f"the formula has {len(text)} characters; at most {MAX_LENGTH} are accepted")
    _prescan(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise _Refused(f"cannot parse the formula: {exc.msg}{col}") from None
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes; parser stack limits
        raise _Refused(f"cannot parse the formula: {type(exc).__name__} {exc}") from None
    depth = _tree_depth(tree)
    if depth > MAX_DEPTH:
        raise _Refused(f"the formula is nested more than {MAX_DEPTH} levels deep")
    return _Builder(text, symbols).build(tree)


def parse_expression(expr, argname: str, allowed=(Y, Z)) -> sp.Expr:
    """Parse a user formula (string or sympy expression) in the symbols ``y`` and ``z``.

    Strings are read by the whitelist parser described in the module docstring: no part of the text
    is executed. Raises ``ValueError`` (naming ``argname`` and the offending token) for anything outside
    the whitelist, unknown symbols, a formula that is not finite (``1/0``) and strings longer than
    :data:`MAX_LENGTH` or nested deeper than :data:`MAX_DEPTH`; ``TypeError`` for other types.

    Examples
    --------
    >>> parse_expression("log1p(exp(-y*z))", "expr")
    log(1 + exp(-y*z))
    >>> parse_expression("__import__('os').system('ls')", "expr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: expr: calling "__import__('os').system" at column 1 is not allowed; formulas may contain ...
    """
    names = {s.name: s for s in allowed}
    if isinstance(expr, str):
        try:
            ex = _parse_text(expr, names)
        except _Refused as exc:
            raise ValueError(f"{argname}: {exc}") from None
    elif isinstance(expr, sp.Expr):
        ex = expr.subs({s: names[s.name] for s in expr.free_symbols
                        if isinstance(s, sp.Symbol) and s.name in names})
        undefined = ex.atoms(AppliedUndef)
        if undefined:
            raise ValueError(f"{argname}: undefined function {sorted(map(str, undefined))[0]}; use the sympy "
                             f"functions {', '.join(FUNCTIONS)}")
    else:
        raise TypeError(f"{argname} must be a string or a sympy expression, got {type(expr).__name__}")
    if not isinstance(ex, sp.Expr):
        raise ValueError(f"{argname}: {expr!r} is not an expression")
    if ex.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ValueError(f"{argname}: {expr!r} is not finite ({ex}); is there a division by zero?")
    if ex.has(sp.I):
        raise ValueError(f"{argname}: {expr!r} is not real ({ex})")
    extra = ex.free_symbols - set(allowed)
    if extra:
        names_txt = ", ".join(sorted(str(s) for s in extra))
        raise ValueError(f"{argname}: unknown symbols {names_txt}; use only "
                         f"{', '.join(str(s) for s in allowed)} (substitute numbers for parameters)")
    return ex


# ============================================================================ evaluation
_MODULES = ["scipy", "numpy"]
_LOG2 = float(np.log(2.0))


def _to_ext(x):
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        return np.sign(x), np.log(np.abs(x))


def _from_ext(v):
    s, lg = v
    with np.errstate(over="ignore", invalid="ignore"):
        return s * np.exp(lg)


def _ext_add(terms):
    lgs = np.stack(np.broadcast_arrays(*(t[1] for t in terms)))
    ss = np.stack(np.broadcast_arrays(*(t[0] for t in terms)))
    with np.errstate(all="ignore"):
        top = np.max(np.where(ss == 0, -np.inf, lgs), axis=0)
        shift = np.where(np.isfinite(top), top, 0.0)
        total = np.sum(np.where(ss == 0, 0.0, ss * np.exp(lgs - shift)), axis=0)
        total = np.where(np.isnan(lgs).any(axis=0) | np.isnan(ss).any(axis=0), np.nan, total)
        return np.sign(total), shift + np.log(np.abs(total))


def _ext_mul(terms):
    s = np.prod(np.stack(np.broadcast_arrays(*(t[0] for t in terms))), axis=0)
    with np.errstate(all="ignore"):
        lg = np.sum(np.stack(np.broadcast_arrays(*(t[1] for t in terms))), axis=0)
    return s, np.where(s == 0, -np.inf, lg)


def _ext_pow(base, exponent: sp.Expr, e_fun):
    sb, lb = base
    if exponent.is_number:
        e = float(exponent)
        if exponent.is_integer:
            s = np.where(sb < 0, (-1.0) ** (int(exponent) % 2), sb)
        else:
            s = np.where(sb < 0, np.nan, sb)
        with np.errstate(all="ignore"):
            lg = e * lb
        if e < 0:  # 0**-k is inf, as in numpy
            s = np.where(sb == 0, 1.0, s)
        return s, lg
    ev = _from_ext(e_fun)
    with np.errstate(all="ignore"):
        return np.where(sb > 0, 1.0, np.nan), ev * lb


def _ext_max(vals, pick_max: bool):
    s, lg = vals[0]
    for s2, l2 in vals[1:]:
        key1, key2 = s * np.where(s == 0, 0.0, lg), s2 * np.where(s2 == 0, 0.0, l2)
        bigger = (s2 > s) | ((s2 == s) & (key2 > key1))
        take = bigger if pick_max else ~bigger & ~((s2 == s) & (key2 == key1))
        s, lg = np.where(take, s2, s), np.where(take, l2, lg)
    return s, lg


def _float_fn(f):
    def g(v):
        with np.errstate(all="ignore"):
            return _to_ext(f(_from_ext(v)))
    return g


def _ext_exp(v):
    with np.errstate(all="ignore"):
        return np.ones_like(v[1]) * np.where(np.isnan(v[0]), np.nan, 1.0), _from_ext(v)


def _ext_log(v):
    s, lg = v
    with np.errstate(all="ignore"):
        return _to_ext(np.where(s > 0, lg, np.where(s == 0, -np.inf, np.nan)))


def _ext_cosh_sinh(v, odd: bool):
    x = _from_ext(v)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        small = _to_ext(np.sinh(x) if odd else np.cosh(x))
        lg = ax - _LOG2 + np.log1p((-1.0 if odd else 1.0) * np.exp(-2 * ax))
        s = np.sign(x) if odd else np.ones_like(x)
    big = ax > 700
    return np.where(big, s, small[0]), np.where(big, lg, small[1])


def _ext_asinh(v):
    s, lg = v
    small = _float_fn(np.arcsinh)(v)
    big = _to_ext(s * (lg + _LOG2))  # asinh(x) = sign(x) (log|x| + log 2) + O(1/x^2)
    use = lg > 20
    return np.where(use, big[0], small[0]), np.where(use, big[1], small[1])


def _ext_erfc(v):
    x = _from_ext(v)
    with np.errstate(all="ignore"):
        lg = _LOG2 + special.log_ndtr(-np.sqrt(2.0) * x)
    return np.where(np.isnan(x), np.nan, 1.0), lg


_UNARY = {
    sp.exp: _ext_exp, sp.log: _ext_log, sp.erfc: _ext_erfc, sp.asinh: _ext_asinh,
    sp.cosh: lambda v: _ext_cosh_sinh(v, False), sp.sinh: lambda v: _ext_cosh_sinh(v, True),
    sp.Abs: lambda v: (np.abs(v[0]), v[1]), sp.sign: lambda v: (v[0], np.where(v[0] == 0, -np.inf, 0.0)),
    sp.erf: _float_fn(special.erf), sp.tanh: _float_fn(np.tanh), sp.atan: _float_fn(np.arctan),
    sp.sin: _float_fn(np.sin), sp.cos: _float_fn(np.cos), sp.tan: _float_fn(np.tan),
    sp.Heaviside: _float_fn(lambda x: np.heaviside(x, 0.5)),
}


def _compile_ext(expr: sp.Expr, args: tuple[sp.Symbol, ...]):
    """A function of the inputs' sign-log forms returning the sign-log form of ``expr``."""
    if expr in args:
        i = args.index(expr)
        return lambda env: env[i]
    if not expr.free_symbols & set(args):
        c = sp.N(expr, 30)
        if not (c.is_real and c.is_finite):
            return lambda env: (np.nan, np.nan)
        s, lg = float(sp.sign(c)), (float(sp.log(abs(c))) if c != 0 else -np.inf)
        return lambda env: (s, lg)
    if isinstance(expr, (sp.Add, sp.Mul, sp.Max, sp.Min)):
        parts = [_compile_ext(a, args) for a in expr.args]
        combine = {sp.Add: _ext_add, sp.Mul: _ext_mul, sp.Max: lambda v: _ext_max(v, True),
                   sp.Min: lambda v: _ext_max(v, False)}[type(expr)]
        return lambda env: combine([p(env) for p in parts])
    if isinstance(expr, sp.Pow):
        base, exponent = (_compile_ext(a, args) for a in expr.args)
        return lambda env: _ext_pow(base(env), expr.args[1], exponent(env))
    if expr.func in _UNARY and len(expr.args) == 1:
        f, arg = _UNARY[expr.func], _compile_ext(expr.args[0], args)
        return lambda env: f(arg(env))
    # anything else (e.g. a sympy object given directly): this node in plain numpy, on finite inputs
    f_np = lambdify(args, expr, _MODULES)

    def plain(env):
        with np.errstate(all="ignore"):
            return _to_ext(f_np(*(_from_ext(e) for e in env)))

    return plain


def lambdify(args, expr, modules):
    """``sympy.lambdify`` without its ``linecache`` entry.

    sympy registers each generated function's source in ``linecache`` and removes it from a ``weakref`` finalizer
    when the function is collected. A collection that runs while ``linecache.checkcache`` walks the cache (the
    debugger and doctest call it) then raises ``KeyError`` there (CPython 3.11's ``checkcache`` does not expect
    entries to vanish): a failure decided by garbage-collection timing. Without the entry, tracebacks through the
    generated code show no source line; nothing else changes (the finalizer finds nothing to remove).
    """
    f = sp.lambdify(args, expr, modules=modules)
    linecache.cache.pop(getattr(getattr(f, "__code__", None), "co_filename", None), None)
    return f


def lambdify_safe(expr: sp.Expr, args=(Y, Z)):
    """Vectorised numpy function of ``expr``, exact where a plain numpy evaluation overflows.

    numpy/scipy evaluate first (floating-point warnings silenced); entries that come out NaN or inf are
    recomputed, vectorised, in the sign-and-logarithm form of the module docstring, so that
    ``exp(800)/(1 + exp(800))`` is 1 and ``(z - 50) * exp((z - 50)**2) * exp(-(z - 50)**2)`` is finite for
    every ``z``. Entries that are still not finite (``log(-1)``, a true overflow of the result) stay
    so; the callers treat that as an error.

    Examples
    --------
    >>> f = lambdify_safe(parse_expression("exp(-y*z)/(1 + exp(-y*z))", "expr"))
    >>> f(np.array([1.0, 1.0]), np.array([0.0, -1000.0]))
    array([0.5, 1. ])
    """
    args = tuple(args)
    f_np = lambdify(args, expr, _MODULES)
    f_ext = None

    def f(*xs):
        nonlocal f_ext
        xs = [np.asarray(x, dtype=float) for x in xs]
        with np.errstate(all="ignore"):
            out = np.asarray(f_np(*xs), dtype=float)
        shape = np.broadcast_shapes(*(x.shape for x in xs), out.shape)
        out = np.array(np.broadcast_to(out, shape), dtype=float)
        bad = ~np.isfinite(out)
        if np.any(bad):
            if f_ext is None:
                f_ext = _compile_ext(expr, args)
            env = [_to_ext(np.broadcast_to(x, shape)[bad]) for x in xs]
            out[bad] = np.broadcast_to(_from_ext(f_ext(env)), (int(bad.sum()),))
        return out

    return f
