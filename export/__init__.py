"""Exporters: a subnet checkpoint as a directory another runtime loads (ONNX, Hugging Face), checked by
that runtime."""
