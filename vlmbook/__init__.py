"""vlmbook: the companion package of an executable textbook on vision-language models."""

__version__ = "0.1.0"
