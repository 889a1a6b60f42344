"""BLIP's text transformer: a BERT encoder or decoder that reads an image through cross-attention.

Li et al. 2022, "BLIP: Bootstrapping Language-Image Pre-training", arXiv
2201.12086, figure 2: the image-grounded text encoder adds a
cross-attention layer between the self-attention and the feed-forward network
of each BERT layer (Devlin et al. 2018, arXiv 1810.04805), and the
image-grounded text decoder is the same stack with causal self-attention.

Unlike the pre-norm blocks of ``vlmbook.transformer``, these layers are
post-norm, as in BERT and in Hugging Face's BLIP text model:

    x = LayerNorm(x + SelfAttention(x))
    x = LayerNorm(x + CrossAttention(x, context))
    x = LayerNorm(x + MLP(x))

Shape legend:
    B      batch size
    T_txt  text positions;  T_ctx positions of the context (image patches or question tokens)
    D_txt  text width;  D_ctx context width
    V      vocabulary size
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlmbook.attention import KVCache, MultiHeadAttention, build_mask
from vlmbook.transformer import MLP, activation


@dataclass
class TextConfig:
    """Sizes of BLIP's text transformer. Defaults are the ``tiny`` preset trained on ShapesWorld."""

    vocab_size: int = 64  # ShapesWorld words plus special tokens such as [PAD], [CLS], [SEP] and [DEC]
    width: int = 64  # D_txt
    num_layers: int = 2
    num_heads: int = 4
    mlp_dim: int = 256
    max_positions: int = 32  # maximum question or caption length in tokens
    context_width: int = 64  # D_ctx: the width of the image features cross-attention reads
    act: str = "gelu"  # BERT's exact GELU
    norm_eps: float = 1e-12  # BERT's LayerNorm epsilon, far smaller than the vision tower's 1e-5
    pad_token_id: int = 0  # BERT's [PAD]
    bos_token_id: int = 30522  # BLIP's [DEC] token, the first token of every generated caption
    sep_token_id: int = 102  # BERT's [SEP], where generation stops
    tie_word_embeddings: bool = True  # the LM head reuses the word embeddings, as in BERT and BLIP

    @classmethod
    def tiny(cls) -> TextConfig:
        return cls(bos_token_id=1, sep_token_id=2)

    @classmethod
    def bert_base(cls) -> TextConfig:
        """Return the text side of ``Salesforce/blip-image-captioning-base``, for reference."""
        return cls(vocab_size=30524, width=768, num_layers=12, num_heads=12, mlp_dim=3072, max_positions=512,
                   context_width=768)

    @classmethod
    def from_hf(cls, hf: dict) -> TextConfig:
        """Read a Hugging Face ``BlipTextConfig`` dict."""
        return cls(
            vocab_size=hf.get("vocab_size", 30524),
            width=hf.get("hidden_size", 768),
            num_layers=hf.get("num_hidden_layers", 12),
            num_heads=hf.get("num_attention_heads", 8),
            mlp_dim=hf.get("intermediate_size", 3072),
            max_positions=hf.get("max_position_embeddings", 512),
            context_width=hf.get("encoder_hidden_size", 768),
            act=hf.get("hidden_act", "gelu"),
            norm_eps=hf.get("layer_norm_eps", 1e-12),
            pad_token_id=hf.get("pad_token_id", 0),
            bos_token_id=hf.get("bos_token_id", 30522),
            sep_token_id=hf.get("sep_token_id", 102),
            tie_word_embeddings=hf.get("tie_word_embeddings", True),
        )


@dataclass
class TextOutput:
    hidden_states: torch.Tensor  # (B, T_txt, D_txt)
    self_attentions: list[torch.Tensor]  # per layer, (B, heads, T_txt, T_txt); None entries on the fused path
    cross_attentions: list[torch.Tensor]  # per layer, (B, heads, T_txt, T_ctx); None entries on the fused path


# --8<-- [start:layer]
class PostNormLayer(nn.Module):
    """One BERT layer with cross-attention (BLIP, figure 2): each sublayer is followed by Add & LayerNorm."""

    def __init__(self, config: TextConfig):
        super().__init__()
        width = config.width
        self.attn = MultiHeadAttention(width, config.num_heads, divide_by_sqrt=True)
        self.norm1 = nn.LayerNorm(width, eps=config.norm_eps)
        self.cross_attn = MultiHeadAttention(width, config.num_heads, kv_dim=config.context_width, divide_by_sqrt=True)
        self.norm_cross = nn.LayerNorm(width, eps=config.norm_eps)
        self.mlp = MLP(width, config.mlp_dim, config.act)
        self.norm2 = nn.LayerNorm(width, eps=config.norm_eps)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        context: torch.Tensor | None,
        context_mask: torch.Tensor | None,
        cache: tuple[KVCache, KVCache] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        self_cache, cross_cache = cache if cache is not None else (None, None)

        # Self-attention over the text, then Add & Norm.
        attn_out, self_weights = self.attn(x, mask=mask, cache=self_cache)
        x = self.norm1(x + attn_out)  # (B, T_txt, D_txt)

        # Cross-attention: every text position reads the context, then Add & Norm.
        cross_weights = None
        if context is not None:
            cross_out, cross_weights = self.cross_attn(x, context=context, mask=context_mask, cache=cross_cache)
            x = self.norm_cross(x + cross_out)  # (B, T_txt, D_txt)

        # Feed-forward network, then Add & Norm.
        x = self.norm2(x + self.mlp(x))  # (B, T_txt, D_txt)
        return x, self_weights, cross_weights
# --8<-- [end:layer]


class TextTransformer(nn.Module):
    """BERT embeddings and post-norm layers: bidirectional (encoder) or causal (decoder)."""

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.width)
        self.position_embeddings = nn.Embedding(config.max_positions, config.width)
        self.embed_norm = nn.LayerNorm(config.width, eps=config.norm_eps)
        self.layers = nn.ModuleList(PostNormLayer(config) for _ in range(config.num_layers))

    def new_cache(self) -> list[tuple[KVCache, KVCache]]:
        return [(KVCache(), KVCache()) for _ in self.layers]

    # --8<-- [start:text_forward]
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: list[tuple[KVCache, KVCache]] | None = None,
    ) -> TextOutput:
        length = input_ids.shape[1]
        past = cache[0][0].length if cache is not None else 0
        if past + length > self.config.max_positions:
            raise ValueError(
                f"{past + length} text positions exceed max_positions={self.config.max_positions}; "
                "truncate the text or generate fewer tokens"
            )

        # Word plus position embeddings, normalized as in BERT.
        positions = torch.arange(past, past + length, device=input_ids.device)
        x = self.embed_norm(self.word_embeddings(input_ids) + self.position_embeddings(positions))  # (B, T_txt, D_txt)

        # Masks: padding (and causality for the decoder) on the text, padding on the context.
        mask = build_mask(attention_mask, length, past + length, causal=causal, device=input_ids.device)
        if context is not None and context_mask is not None:
            context_mask = build_mask(context_mask, length, context.shape[1], causal=False, device=input_ids.device)

        output = TextOutput(x, [], [])
        for i, layer in enumerate(self.layers):
            x, self_weights, cross_weights = layer(x, mask, context, context_mask, cache[i] if cache else None)
            output.self_attentions.append(self_weights)
            output.cross_attentions.append(cross_weights)
        output.hidden_states = x
        return output
    # --8<-- [end:text_forward]


class LMHead(nn.Module):
    """BERT's prediction head: dense, activation and LayerNorm, then a linear map to the vocabulary."""

    def __init__(self, config: TextConfig):
        super().__init__()
        self.dense = nn.Linear(config.width, config.width)
        self.act = activation(config.act)
        self.norm = nn.LayerNorm(config.width, eps=config.norm_eps)
        self.to_vocab = nn.Linear(config.width, config.vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.to_vocab(self.norm(self.act(self.dense(hidden_states))))  # (B, T_txt, V)


class TextDecoder(nn.Module):
    """BLIP's image-grounded text decoder: causal text transformer plus LM head."""

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        self.transformer = TextTransformer(config)
        self.lm_head = LMHead(config)
        if config.tie_word_embeddings:
            self.lm_head.to_vocab.weight = self.transformer.word_embeddings.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        context: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        cache: list[tuple[KVCache, KVCache]] | None = None,
    ) -> tuple[torch.Tensor, TextOutput]:
        """Return next-token logits (B, T_txt, V) and the transformer's output with its attention maps."""
        output = self.transformer(input_ids, attention_mask, context, context_mask, causal=True, cache=cache)
        return self.lm_head(output.hidden_states), output

    # --8<-- [start:generate]
    @torch.no_grad()
    def generate(
        self,
        start_ids: torch.Tensor,
        context: torch.Tensor,
        context_mask: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Greedy decoding until [SEP]: return the start ids followed by the generated ids."""
        cache = self.transformer.new_cache() if use_cache else None
        tokens = start_ids  # (B, T_start)
        finished = torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)

        for _ in range(max_new_tokens):
            # With a cache, only the newest token runs; the image keys are computed once.
            step_ids = tokens[:, -1:] if use_cache and cache[0][0].length else tokens
            logits, _ = self(step_ids, context, context_mask=context_mask, cache=cache)
            next_token = logits[:, -1].argmax(dim=-1)  # (B,)

            # Finished rows are padded, as transformers' generate does.
            pad = torch.full_like(next_token, self.config.pad_token_id)
            next_token = torch.where(finished, pad, next_token)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, T + 1)
            finished |= next_token == self.config.sep_token_id
            if finished.all():
                break
        return tokens
    # --8<-- [end:generate]


def text_state_dict_from_hf(
    hf: dict[str, torch.Tensor], hf_prefix: str, our_prefix: str
) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face ``BlipTextModel`` or ``BlipTextLMHeadModel`` under ``hf_prefix`` to ours.

    The LM head's output matrix is tied to the word embeddings and its bias to
    ``cls.predictions.bias``, so checkpoints store neither; both are filled in here.
    """
    renames = [
        ("bert.", ""),
        ("embeddings.word_embeddings.", "word_embeddings."),
        ("embeddings.position_embeddings.", "position_embeddings."),
        ("embeddings.LayerNorm.", "embed_norm."),
        ("encoder.layer.", "layers."),
        # Cross-attention first: "attention.self." is a substring of "crossattention.self.".
        ("crossattention.self.query.", "cross_attn.q_proj."),
        ("crossattention.self.key.", "cross_attn.k_proj."),
        ("crossattention.self.value.", "cross_attn.v_proj."),
        ("crossattention.output.dense.", "cross_attn.out_proj."),
        ("crossattention.output.LayerNorm.", "norm_cross."),
        ("attention.self.query.", "attn.q_proj."),
        ("attention.self.key.", "attn.k_proj."),
        ("attention.self.value.", "attn.v_proj."),
        ("attention.output.dense.", "attn.out_proj."),
        ("attention.output.LayerNorm.", "norm1."),
        ("intermediate.dense.", "mlp.fc1."),
        ("output.dense.", "mlp.fc2."),
        ("output.LayerNorm.", "norm2."),
        ("cls.predictions.transform.dense.", "lm_head.dense."),
        ("cls.predictions.transform.LayerNorm.", "lm_head.norm."),
        ("cls.predictions.decoder.", "lm_head.to_vocab."),
        ("cls.predictions.bias", "lm_head.to_vocab.bias"),
    ]
    is_decoder = any(name.startswith(hf_prefix + "cls.") for name in hf)
    ours: dict[str, torch.Tensor] = {}
    for name, tensor in hf.items():
        if not name.startswith(hf_prefix):
            continue
        name = name[len(hf_prefix) :]
        for old, new in renames:
            name = name.replace(old, new)
        if is_decoder and not name.startswith("lm_head."):
            name = "transformer." + name
        ours[our_prefix + name] = tensor
    if is_decoder:
        ours.setdefault(our_prefix + "lm_head.to_vocab.weight", ours[our_prefix + "transformer.word_embeddings.weight"])
    return ours
