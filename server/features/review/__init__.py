"""Review diagnostics: likely bugs at single tokens and unusual functions, one idea per module.

| module | owns |
|---|---|
| `signals`, `confusables` | one pass of `review_signals.onnx` per window: per-token surprisal, hidden states, log-probs of confusables |
| `findings`, `rewrites` | likely-bug candidates (operators, literals, names; `not` dropped or added, arguments swapped), their re-scoring from the slot on and per-kind thresholds, document ranges |
| `model` | the function score (surprisal residual + VAE + detector), its percentile, the line ranking |
| `feature` | `ReviewFeature`: document -> findings, the per-function cache, functions scored on worker threads (visible and edited first) |
| `diagnostics` | findings as LSP diagnostics, the quick fix, the suppression comment |
| `scheduler` | when review runs: debounce, the background lane, cancellation on a newer version, "reviewed N of M" |
"""

from devassist.server.features.review.diagnostics import (fix_action, fix_code_action, suppress_action,
                                                           suppress_code_action, to_diagnostics)
from devassist.server.features.review.feature import (CODE_BUG, CODE_INCOMPLETE, CODE_UNUSUAL, Finding, ReviewCancelled,
                                                       ReviewFeature, ReviewReport, function_units, is_python_document)

__all__ = ["CODE_BUG", "CODE_INCOMPLETE", "CODE_UNUSUAL", "Finding", "ReviewCancelled", "ReviewFeature", "ReviewReport",
           "fix_action", "fix_code_action", "function_units", "is_python_document", "suppress_action",
           "suppress_code_action", "to_diagnostics"]
