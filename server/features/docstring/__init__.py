"""The "Generate docstring" / "Update docstring" feature, one idea per module.

| module | owns |
|---|---|
| `facts`, `usage` | what the parse says: parameters, returns, yields, raises, and how parameters are used |
| `describe` | entry descriptions from those facts (Args / Returns / Raises text) |
| `fallback` | the summary written from the parse, and the marked placeholder |
| `faithful` | which words of a summary the code supports; the model's confidence gate |
| `styles`, `render` | Google / NumPy / Sphinx docstrings: parse, sync with the code, render |
| `summary`, `retrieval`, `rerank`, `loading` | the summarizers (FIM model, parse, BM25 retrieval, template) and the bundle's components |
| `feature`, `syntax` | `DocstringFeature`: cursor -> one verified text edit; code actions; headers, line endings, errors |
"""

from devassist.server.features.docstring.feature import (
    COMMAND, GENERATE, UPDATE, DocstringAction, DocstringEdit, DocstringError, DocstringFeature, check_version)

__all__ = ["COMMAND", "GENERATE", "UPDATE", "DocstringAction", "DocstringEdit", "DocstringError",
           "DocstringFeature", "check_version"]
