"""Completions from a team's Triton Inference Server (`devassist serve --remote URL`)."""
