"""Hugging Face glue: tokenizer, processors and tiny model configs for ShapesWorld."""
