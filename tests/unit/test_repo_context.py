"""Repository context: chunks at definitions, BM25 ranking, imported names first, the budget."""

from __future__ import annotations

from devassist.server.features.repo_context import RepoIndex, split_chunks

MODELS = '''"""Data classes."""
import dataclasses


@dataclasses.dataclass
class Invoice:
    customer_id: int
    total_cents: int


def invoice_total(invoice):
    return invoice.total_cents / 100
'''
UTIL = '''def slugify(text):
    return "-".join(text.lower().split())
'''
CURRENT = '''from shop.models import Invoice


def charge(customer_id, cents):
    invoice = Invoice('''


def count(text: str) -> int:
    return len(text.split())


def test_chunks_start_at_definitions_with_their_decorators():
    chunks = split_chunks("models.py", MODELS)
    assert [sorted(c.defines) for c in chunks] == [[], ["Invoice"], ["invoice_total"]]
    assert chunks[1].text.startswith("@dataclasses.dataclass")


def test_the_imported_definition_comes_last_and_the_own_file_never():
    index = RepoIndex.from_files([("shop/models.py", MODELS), ("shop/util.py", UTIL), ("shop/charge.py", CURRENT)])
    text = index.context(CURRENT, "shop/charge.py", 200, count, document=CURRENT)
    assert "class Invoice" in text and "def charge" not in text
    assert text.rstrip().endswith("total_cents: int")  # the most relevant chunk sits nearest the cursor
    assert "slugify" not in text  # shares no identifier with the query


def test_budget_is_respected_and_zero_means_off():
    index = RepoIndex.from_files([("a.py", MODELS), ("b.py", UTIL)])
    assert index.context(CURRENT, "c.py", 0, count) == ""
    small = index.context(CURRENT, "c.py", 12, count, document=CURRENT)
    assert count(small) <= 12


def test_the_prompt_puts_the_snippets_before_the_document(tiny_bundle):
    from devassist.server.bundle import load_bundle
    from devassist.server.features.completion import CompletionEngine
    from devassist.server.runtime.lm import LanguageModel
    from devassist.server.settings import CompletionSettings

    engine = CompletionEngine(LanguageModel(load_bundle(tiny_bundle), component="lm_int8"), use_fim=False)
    settings = CompletionSettings(repo_context_tokens=64)
    ctx = engine.context_at(CURRENT, len(CURRENT), False)
    plain, _ = engine.prompt_at(CURRENT, "", ctx, settings, 16)
    repo = "# models.py\nclass Invoice:\n    customer_id: int\n\n"
    with_repo, heal = engine.prompt_at(CURRENT, "", ctx, settings, 16, repo=repo)
    assert with_repo[-len(plain):] == plain and with_repo[:-len(plain)] == engine.lm.encode(repo)
    assert heal == "("
