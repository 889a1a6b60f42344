"""LLaVA from scratch: image patches, projected into a language model's token space.

Liu et al. 2023, "Visual Instruction Tuning", arXiv 2304.08485: H_v = W * Z_v,
where Z_v are the patch features of a frozen CLIP ViT and W a projection
(LLaVA-1.5, arXiv 2310.03744, makes it a two-layer MLP).
The projected patches replace the image placeholder tokens of the prompt, and a
decoder-only language model (here Llama-style: RMSNorm, rotary positions,
SwiGLU) continues the text.

This module loads the weights of Hugging Face's ``LlavaForConditionalGeneration``
(a CLIP vision tower and a Llama text model) and matches its logits and greedy
generations (tests/test_parity_llava.py).

Shape legend:
    B          batch size (one image per prompt)
    T          prompt positions, image placeholders included
    N_img      image tokens per image (N_patch, or 1 + N_patch with the CLS token)
    D_img      vision tower width;  D_txt language model width
    L          vision layers whose features are concatenated (vision_feature_layer)
    V          vocabulary size
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlmbook.attention import KVCache, build_mask, check_weights_available, rotary_angles
from vlmbook.transformer import RMSNorm, SwiGLU, TransformerBlock, read_hf_folder
from vlmbook.vision import VisionTransformer, ViTConfig, vit_state_dict_from_hf


@dataclass
class LlavaConfig:
    """Sizes of a LLaVA model. Defaults are the ``tiny`` preset trained on ShapesWorld."""

    vision: ViTConfig = field(default_factory=ViTConfig.tiny)  # a CLIP vision tower
    # The second-to-last layer, whose features the LLaVA paper finds more local. A tuple of layers
    # concatenates their features along the width, as `transformers` allows.
    vision_feature_layer: int | tuple[int, ...] = -2
    keep_cls_token: bool = False  # the "default" strategy drops CLS; "full" keeps it
    vocab_size: int = 64  # ShapesWorld words, special tokens and the image placeholder
    text_width: int = 64  # D_txt
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 4  # fewer than text_heads makes it grouped-query attention
    text_mlp_dim: int = 172  # SwiGLU's hidden width, about 8/3 of D_txt as in Llama
    rms_norm_eps: float = 1e-6  # Llama 2's RMSNorm epsilon
    rope_theta: float = 10000.0  # base of the rotary frequencies (RoFormer)
    projector_act: str = "gelu"  # LLaVA-1.5's projector is Linear-GELU-Linear
    projector_bias: bool = True  # both projector layers have a bias in LLaVA-1.5
    image_token_id: int = 63  # the placeholder the processor repeats N_img times per image
    eos_token_id: int = 2  # generation stops here
    pad_token_id: int | None = None  # fills finished rows during batched generation; None means eos
    tie_word_embeddings: bool = False  # True shares the LM head with the token embeddings (the tiny model does)

    @classmethod
    def tiny(cls) -> LlavaConfig:
        return cls()

    @classmethod
    def llava_1_5_7b(cls) -> LlavaConfig:
        """``llava-hf/llava-1.5-7b-hf``, for reference: CLIP ViT-L/14 at 336 px and Vicuna-7B."""
        vision = ViTConfig(image_size=336, patch_size=14, width=1024, num_layers=24, num_heads=16, mlp_dim=4096)
        return cls(
            vision=vision,
            vocab_size=32064,
            text_width=4096,
            text_layers=32,
            text_heads=32,
            text_kv_heads=32,
            text_mlp_dim=11008,
            rms_norm_eps=1e-5,
            image_token_id=32000,
        )

    @classmethod
    def from_hf(cls, hf: dict) -> LlavaConfig:
        """Read the ``config.json`` of a Hugging Face ``LlavaForConditionalGeneration``."""
        text = hf.get("text_config", {})
        feature_layer = hf.get("vision_feature_layer", -2)
        strategy = hf.get("vision_feature_select_strategy", "default")
        if isinstance(feature_layer, list) and feature_layer and all(isinstance(i, int) for i in feature_layer):
            feature_layer = tuple(feature_layer)
        if not isinstance(feature_layer, (int, tuple)) or strategy not in ("default", "full"):
            raise ValueError(
                f"vision_feature_layer={feature_layer!r} with strategy {strategy!r} is not supported; "
                "this implementation reads one layer or a list of layers with the 'default' or 'full' strategy"
            )
        heads = text.get("num_attention_heads", 32)
        head_dim = text.get("head_dim") or text.get("hidden_size", 4096) // heads
        if head_dim * heads != text.get("hidden_size", 4096):
            raise ValueError(f"head_dim={head_dim} times {heads} heads must equal hidden_size; other layouts are not supported")
        rope = text.get("rope_parameters") or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"rope_type={rope['rope_type']!r} is not supported; only the original RoPE ('default') is")
        return cls(
            vision=ViTConfig.from_hf(hf["vision_config"]) if "vision_config" in hf else cls.llava_1_5_7b().vision,
            vision_feature_layer=feature_layer,
            keep_cls_token=strategy == "full",
            vocab_size=text.get("vocab_size", 32000),
            text_width=text.get("hidden_size", 4096),
            text_layers=text.get("num_hidden_layers", 32),
            text_heads=heads,
            text_kv_heads=text.get("num_key_value_heads") or heads,
            text_mlp_dim=text.get("intermediate_size", 11008),
            rms_norm_eps=text.get("rms_norm_eps", 1e-6),
            rope_theta=rope.get("rope_theta", text.get("rope_theta", 10000.0)),
            projector_act=hf.get("projector_hidden_act", "gelu"),
            projector_bias=hf.get("multimodal_projector_bias", True),
            image_token_id=hf.get("image_token_id", hf.get("image_token_index", 32000)),
            eos_token_id=text.get("eos_token_id", 2),
            pad_token_id=text.get("pad_token_id"),
            tie_word_embeddings=bool(hf.get("tie_word_embeddings") or text.get("tie_word_embeddings")),
        )


class LlamaDecoder(nn.Module):
    """Decoder-only language model in the Llama layout (Touvron et al. 2023, arXiv 2302.13971)."""

    def __init__(self, config: LlavaConfig):
        super().__init__()
        self.config = config
        width = config.text_width
        self.embed_tokens = nn.Embedding(config.vocab_size, width)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                width,
                config.text_heads,
                mlp=SwiGLU(width, config.text_mlp_dim),
                make_norm=lambda: RMSNorm(width, config.rms_norm_eps),
                num_kv_heads=config.text_kv_heads,
                bias=False,
            )
            for _ in range(config.text_layers)
        )
        self.norm = RMSNorm(width, config.rms_norm_eps)
        self.lm_head = nn.Linear(width, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    def new_cache(self) -> list[KVCache]:
        return [KVCache() for _ in self.blocks]

    # --8<-- [start:decoder_forward]
    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: list[KVCache] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return next-token logits (B, T, V) and each layer's self-attention weights."""
        batch, length, _ = inputs_embeds.shape
        past = cache[0].length if cache is not None else 0

        # Rotary angles for positions past .. past + T - 1.
        positions = torch.arange(past, past + length, device=inputs_embeds.device).expand(batch, -1)  # (B, T)
        cos, sin = rotary_angles(positions, self.config.text_width // self.config.text_heads, self.config.rope_theta)
        rotary = (cos.to(inputs_embeds.dtype), sin.to(inputs_embeds.dtype))

        # Causal blocks, each appending its keys and values to the cache.
        mask = build_mask(attention_mask, length, past + length, causal=True, device=inputs_embeds.device)
        x, attentions = inputs_embeds, []
        for i, block in enumerate(self.blocks):
            x, attn_weights = block(x, mask=mask, cache=cache[i] if cache else None, rotary=rotary)
            attentions.append(attn_weights)
        return self.lm_head(self.norm(x)), attentions  # (B, T, V)
    # --8<-- [end:decoder_forward]


# --8<-- [start:projector]
class Projector(nn.Module):
    """LLaVA-1.5's vision-language connector: Linear-GELU-Linear from L * D_img to D_txt (L feature layers)."""

    def __init__(self, config: LlavaConfig):
        super().__init__()
        layers = config.vision_feature_layer
        in_width = config.vision.width * (1 if isinstance(layers, int) else len(layers))  # L * D_img for L layers
        self.linear_1 = nn.Linear(in_width, config.text_width, bias=config.projector_bias)
        self.linear_2 = nn.Linear(config.text_width, config.text_width, bias=config.projector_bias)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(image_features)))  # (B, N_img, L * D_img) -> (B, N_img, D_txt)
# --8<-- [end:projector]


@dataclass
class LlavaOutput:
    logits: torch.Tensor  # (B, T, V)
    image_features: torch.Tensor  # (B, N_img, D_txt), what replaced the placeholders
    attentions: list[torch.Tensor] = field(default_factory=list)  # decoder self-attention per layer


class Llava(nn.Module):
    """LLaVA (Liu et al. 2023): CLIP vision tower, projector, Llama decoder."""

    def __init__(self, config: LlavaConfig):
        super().__init__()
        if config.projector_act != "gelu":
            raise ValueError(f"projector_act={config.projector_act!r} is not supported; only 'gelu' is")
        self.config = config
        self.vision = VisionTransformer(config.vision)
        self.projector = Projector(config)
        self.decoder = LlamaDecoder(config)

    @property
    def num_image_tokens(self) -> int:
        """N_img: how many placeholder tokens one image fills."""
        return self.config.vision.num_patches + int(self.config.keep_cls_token)

    # --8<-- [start:image_features]
    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Project the features of the chosen vision layers (concatenated) into the decoder's space."""
        hidden_states = self.vision(pixel_values).hidden_states  # embeddings, then one per layer
        layers = self.config.vision_feature_layer
        if isinstance(layers, int):
            features = hidden_states[layers]  # (B, 1 + N_patch, D_img), L = 1
        else:
            features = torch.cat([hidden_states[i] for i in layers], dim=-1)  # (B, 1 + N_patch, L * D_img)
        if not self.config.keep_cls_token:
            features = features[:, 1:]  # (B, N_patch, L * D_img): only the patches
        return self.projector(features)  # (B, N_img, D_txt)
    # --8<-- [end:image_features]

    # --8<-- [start:merge]
    def merge_image_features(self, input_ids: torch.Tensor, image_features: torch.Tensor) -> torch.Tensor:
        """Embed the prompt and write the image features over its placeholder tokens, in order."""
        is_image = input_ids == self.config.image_token_id  # (B, T)
        found, expected = int(is_image.sum()), image_features.shape[0] * image_features.shape[1]
        if found != expected:
            raise ValueError(
                f"the prompts contain {found} image tokens (id {self.config.image_token_id}), but "
                f"{image_features.shape[0]} image(s) need {expected} ({image_features.shape[1]} each); "
                "put one image placeholder per image in the prompt and expand it with the processor"
            )
        embeds = self.decoder.embed_tokens(input_ids)  # (B, T, D_txt)
        embeds = embeds.clone()
        embeds[is_image] = image_features.reshape(-1, embeds.shape[-1]).to(embeds.dtype)
        return embeds
    # --8<-- [end:merge]

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> LlavaOutput:
        if output_attentions:
            check_weights_available(self)
        image_features = self.image_features(pixel_values)  # (B, N_img, D_txt)
        embeds = self.merge_image_features(input_ids, image_features)  # (B, T, D_txt)
        logits, attentions = self.decoder(embeds, attention_mask)
        return LlavaOutput(logits, image_features, attentions if output_attentions else [])

    # --8<-- [start:generate]
    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        max_new_tokens: int = 20,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Greedy decoding: return the prompt followed by the generated ids (B, T + new)."""
        # NOTE: prompts in a batch must have the same length. Left padding would
        # need position ids that skip the pads, and this loop does not compute them.
        eos = self.config.eos_token_id
        pad = self.config.pad_token_id if self.config.pad_token_id is not None else eos
        embeds = self.merge_image_features(input_ids, self.image_features(pixel_values))  # (B, T, D_txt)
        cache = self.decoder.new_cache() if use_cache else None
        tokens, finished = input_ids, torch.zeros(len(input_ids), dtype=torch.bool, device=input_ids.device)

        for _ in range(max_new_tokens):
            # With a cache only the newest position runs; without one, the whole sequence again.
            logits, _ = self.decoder(embeds, cache=cache)
            next_token = logits[:, -1].argmax(dim=-1)  # (B,)
            next_token = torch.where(finished, torch.full_like(next_token, pad), next_token)
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, T + 1)
            finished |= next_token == eos
            if finished.all():
                break
            new_embeds = self.decoder.embed_tokens(next_token[:, None])  # (B, 1, D_txt)
            embeds = new_embeds if use_cache else torch.cat([embeds, new_embeds], dim=1)
        return tokens
    # --8<-- [end:generate]

    @classmethod
    def from_hf_state_dict(cls, state_dict: dict[str, torch.Tensor], config: LlavaConfig) -> Llava:
        """Build a Llava and fill it with a ``LlavaForConditionalGeneration``'s parameters.

        Accepts both layouts transformers writes: ``model.vision_tower...`` and the
        older ``vision_tower.vision_model...`` / ``language_model.model...``.
        """
        normalized = {}
        for name, tensor in state_dict.items():
            name = name.removeprefix("model.")
            name = name.replace("vision_tower.vision_model.", "vision_tower.")
            name = name.replace("language_model.model.", "language_model.")
            name = name.replace("language_model.lm_head.", "lm_head.")
            normalized[name] = tensor

        ours = vit_state_dict_from_hf(normalized, "vision_tower.", "vision.")
        # LLaVA reads hidden states from before the tower's final norm, so that norm is
        # unused and a checkpoint may leave it out.
        ours.setdefault("vision.final_norm.weight", torch.ones(config.vision.width))
        ours.setdefault("vision.final_norm.bias", torch.zeros(config.vision.width))
        for name, tensor in normalized.items():
            if name.startswith("multi_modal_projector."):
                ours[name.replace("multi_modal_projector.", "projector.")] = tensor
            elif name.startswith("language_model."):
                name = name.removeprefix("language_model.").replace("layers.", "blocks.")
                name = name.replace("self_attn.o_proj.", "attn.out_proj.").replace("self_attn.", "attn.")
                name = name.replace("input_layernorm.", "norm1.").replace("post_attention_layernorm.", "norm2.")
                ours["decoder." + name] = tensor
        # Checkpoints with tied embeddings store no lm_head.
        ours["decoder.lm_head.weight"] = normalized.get("lm_head.weight", ours["decoder.embed_tokens.weight"])

        model = cls(config)
        model.load_state_dict(ours, strict=True)
        return model.eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> Llava:
        """Load a ``LlavaForConditionalGeneration`` folder written by ``save_pretrained``."""
        config_dict, state_dict = read_hf_folder(folder)
        return cls.from_hf_state_dict(state_dict, LlavaConfig.from_hf(config_dict))
