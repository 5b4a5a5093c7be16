"""Review diagnostics: likely bugs at single tokens and unusual functions, one idea per module.

| module | owns |
|---|---|
| `signals`, `confusables` | one pass of `review_signals.onnx` per window: per-token surprisal, hidden states, log-probs of confusables |
| `findings`, `rewrites` | likely-bug candidates (operators, literals, names; `not` dropped or added, arguments swapped), their re-scoring from the slot on and per-kind thresholds, document ranges |
| `model` | the function score (surprisal residual + VAE + detector), its percentile, the line ranking |
| `feature` | `ReviewFeature`: document -> findings and diagnostics, the per-function cache, quick fixes and suppression |
| `scheduler` | the worker thread: visible functions first, cancellation on a newer version, "reviewed N of M" |
"""

from devassist.server.features.review.feature import (
    CODE_BUG, CODE_INCOMPLETE, CODE_UNUSUAL, Finding, ReviewCancelled, ReviewFeature, ReviewReport, fix_action,
    fix_code_action, function_units, is_python_document, suppress_action, suppress_code_action, to_diagnostics)

__all__ = ["CODE_BUG", "CODE_INCOMPLETE", "CODE_UNUSUAL", "Finding", "ReviewCancelled", "ReviewFeature", "ReviewReport",
           "fix_action", "fix_code_action", "function_units", "is_python_document", "suppress_action",
           "suppress_code_action", "to_diagnostics"]
