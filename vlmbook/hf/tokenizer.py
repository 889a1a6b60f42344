"""A word-level tokenizer over ShapesWorld's vocabulary, in Hugging Face format.

ShapesWorld's captions, questions and answers use a few dozen lowercase words,
so one id per word is enough: no subword merges to learn, and every id a
model predicts is a whole word a reader can print.

Worked example (ids depend on the vocabulary)::

    >>> tokenizer = build_tokenizer(["a", "red", "circle"], style="bert")
    >>> tokenizer("a red circle").input_ids
    [2, 10, 12, 11, 3]          # [CLS] a red circle [SEP]
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

# Special tokens come first, so their ids are the same in every checkpoint.
PAD, UNK, CLS, SEP, DEC, BOS, EOS, IMAGE = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]", "<s>", "</s>", "<image>"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, DEC, BOS, EOS, IMAGE)

# Words the chat template and punctuation need beyond ShapesWorld's vocabulary.
EXTRA_WORDS = ("user", "assistant", ":", "?", ",", ".")

# Sequence framing of each model family:
#   bert:  [CLS] words [SEP]  (CLIP pools at [SEP]; BLIP swaps [CLS] for [DEC] to decode)
#   llama: <s> words          (the decoder appends </s> itself when it is done)
STYLES = ("bert", "llama")


def build_tokenizer(vocabulary: list[str], style: str = "bert", max_length: int = 32) -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer whose ids are SPECIAL_TOKENS, then the sorted words."""
    if style not in STYLES:
        raise ValueError(f"unknown tokenizer style {style!r}; expected one of {STYLES}")

    # Vocabulary: special tokens, then every word once, in sorted order.
    words = sorted(set(vocabulary) | set(EXTRA_WORDS) - set(SPECIAL_TOKENS))
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + tuple(words))}

    # Split on whitespace and punctuation, so "circle?" becomes "circle", "?".
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=True)

    # Framing: the post-processor adds the special tokens of the style.
    if style == "bert":
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{CLS} $A {SEP}",
            pair=f"{CLS} $A {SEP} $B {SEP}",
            special_tokens=[(CLS, vocab[CLS]), (SEP, vocab[SEP])],
        )
        special = dict(pad_token=PAD, unk_token=UNK, cls_token=CLS, sep_token=SEP, bos_token=DEC, eos_token=SEP)
    else:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A",
            pair=f"{BOS} $A $B",
            special_tokens=[(BOS, vocab[BOS])],
        )
        special = dict(pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS)

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=max_length,
        extra_special_tokens={"image_token": IMAGE},
        **special,
    )
    return wrapped
