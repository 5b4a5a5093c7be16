"""A Triton Inference Server model repository from a bundle (`devassist export --triton`)."""
