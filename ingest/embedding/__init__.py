"""The sentence-transformers model (PyTorch or OpenVINO) and the embedding stage with its vector cache."""
