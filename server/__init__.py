"""devassist language server: the runtime side (never imports torch)."""

__version__ = "0.1.0"
