"""Loaded by run.sh through SCHEMATHESIS_HOOKS: a workaround, not a check.

CPython 3.11.7 (the interpreter this machine kind has) can raise
`SystemError: AST constructor recursion depth mismatch` from `ast.parse` when Hypothesis
describes a filter's lambda for a strategy's repr (CPython gh-106905, fixed in 3.11.8 and
3.12.1). The description is cosmetic; without this, schemathesis reports the interpreter bug
as an error of the operation it was generating for. Generation and every check are unchanged.
"""

from hypothesis.internal import lambda_sources

_describe = lambda_sources.lambda_description


def _lambda_description(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: <source not shown>"


lambda_sources.lambda_description = _lambda_description
