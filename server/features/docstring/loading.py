"""The bundle's docstring components: the retrieval index and the docstring model."""

from __future__ import annotations

from devassist.server.features.docstring.retrieval import BM25Index


def load_index(bundle) -> BM25Index | None:
    """The bundle's `docstring_index` component, if it ships one."""
    if bundle is None or not bundle.has("docstring_index"):
        return None
    return BM25Index.load(bundle.path(bundle.component("docstring_index")["file"]))


def docstring_lm_name(bundle) -> str | None:
    """The bundle component the docstring summaries come from ("lm" unless the bundle says)."""
    if bundle is None:
        return None
    name = bundle.component("docstring").get("lm", "lm") if bundle.has("docstring") else "lm"
    return name if bundle.has(name) else None


def load_docstring_lm(bundle, threads: int | None = None):
    """The docstring model of a bundle (with its own tokenizer if the component names one), or None."""
    name = docstring_lm_name(bundle)
    if name is None:
        return None
    from devassist.server.runtime.lm import LanguageModel

    lm = LanguageModel(bundle, component=name, threads=threads)
    tok_file = bundle.component(name).get("tokenizer")
    if tok_file:  # a docstring model trained apart from the completion model
        from tokenizers import Tokenizer

        lm.tokenizer = Tokenizer.from_file(str(bundle.path(tok_file)))
        lm.special_ids = {role: lm.tokenizer.token_to_id(tok) for role, tok in bundle.special_tokens.items()}
        lm.eot_id = lm.special_ids.get("eot")
    return lm
