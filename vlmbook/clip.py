"""CLIP from scratch: two towers trained to put matching images and captions close together.

Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
Supervision", arXiv 2103.00020. An image encoder and a text encoder each map
their input to one vector. Both vectors are projected to a shared space and
L2-normalized. Training scales the cosine similarity of every image with every
caption in a batch by a learned temperature and applies a symmetric
cross-entropy (figure 3 of the paper), so that the matching pairs win.

This module loads the weights of Hugging Face's ``CLIPModel`` and computes the
same embeddings and logits (tests/test_parity_clip.py).

Shape legend:
    B_img, B_txt   number of images, number of captions
    T_txt          text positions (at most ``context_length``)
    D_img, D_txt   widths of the vision and text towers
    D_emb          width of the shared embedding space
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlmbook.attention import build_mask, check_weights_available
from vlmbook.transformer import MLP, TransformerBlock, read_hf_folder
from vlmbook.vision import VisionTransformer, ViTConfig, vit_state_dict_from_hf


@dataclass
class CLIPConfig:
    """Sizes of a CLIP model. Defaults are the ``tiny`` preset trained on ShapesWorld."""

    vision: ViTConfig = field(default_factory=ViTConfig.tiny)  # the image tower
    vocab_size: int = 64  # ShapesWorld needs a few dozen words plus special tokens
    context_length: int = 16  # maximum caption length in tokens, start and end tokens included
    text_width: int = 64  # D_txt
    text_layers: int = 2
    text_heads: int = 4
    text_mlp_dim: int = 256
    text_act: str = "quick_gelu"  # the activation OpenAI trained CLIP with
    norm_eps: float = 1e-5
    eos_token_id: int = 2  # the text embedding is read at this token, the end of the caption
    embed_dim: int = 32  # D_emb: the shared space only has to separate ShapesWorld's captions
    logit_scale_init: float = math.log(1 / 0.07)  # temperature 0.07 at the start of training, as in the paper
    max_logit_scale: float = 100.0  # CLIP clips the logit scale at 100 to keep training stable

    @classmethod
    def tiny(cls) -> CLIPConfig:
        return cls()

    @classmethod
    def vit_b_32(cls) -> CLIPConfig:
        """``openai/clip-vit-base-patch32``, for reference (about 151M parameters)."""
        return cls(
            vision=ViTConfig.vit_b_32(),
            vocab_size=49408,
            context_length=77,
            text_width=512,
            text_layers=12,
            text_heads=8,
            text_mlp_dim=2048,
            eos_token_id=49407,
            embed_dim=512,
        )

    @classmethod
    def from_hf(cls, hf: dict) -> CLIPConfig:
        """Read the ``config.json`` of a Hugging Face ``CLIPModel``."""
        text = hf.get("text_config", {})
        return cls(
            vision=ViTConfig.from_hf(hf.get("vision_config", {}), clip_style=True),
            vocab_size=text.get("vocab_size", 49408),
            context_length=text.get("max_position_embeddings", 77),
            text_width=text.get("hidden_size", 512),
            text_layers=text.get("num_hidden_layers", 12),
            text_heads=text.get("num_attention_heads", 8),
            text_mlp_dim=text.get("intermediate_size", 2048),
            text_act=text.get("hidden_act", "quick_gelu"),
            norm_eps=text.get("layer_norm_eps", 1e-5),
            eos_token_id=text.get("eos_token_id", 49407),
            embed_dim=hf.get("projection_dim", 512),
            logit_scale_init=hf.get("logit_scale_init_value", 2.6592),  # transformers' default, about log(1 / 0.07)
        )


@dataclass
class CLIPOutput:
    logits_per_image: torch.Tensor  # (B_img, B_txt): scaled cosine similarities
    logits_per_text: torch.Tensor  # (B_txt, B_img): the same matrix, transposed
    image_embeds: torch.Tensor  # (B_img, D_emb), unit length
    text_embeds: torch.Tensor  # (B_txt, D_emb), unit length
    vision_attentions: list[torch.Tensor] = field(default_factory=list)
    text_attentions: list[torch.Tensor] = field(default_factory=list)


class CLIPTextTransformer(nn.Module):
    """CLIP's text tower: a causal pre-norm transformer read out at the end-of-text token (Radford et al. 2021)."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        width = config.text_width
        self.token_embedding = nn.Embedding(config.vocab_size, width)
        self.position_embedding = nn.Parameter(torch.zeros(config.context_length, width))
        self.blocks = nn.ModuleList(
            TransformerBlock(
                width,
                config.text_heads,
                mlp=MLP(width, config.text_mlp_dim, config.text_act),
                make_norm=lambda: nn.LayerNorm(width, eps=config.norm_eps),
            )
            for _ in range(config.text_layers)
        )
        self.final_norm = nn.LayerNorm(width, eps=config.norm_eps)

    # --8<-- [start:text_forward]
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return one vector per caption (B_txt, D_txt) and each block's attention weights."""
        batch, length = input_ids.shape
        if length > self.config.context_length:
            raise ValueError(
                f"input_ids has {length} tokens but CLIP reads at most {self.config.context_length}; "
                "tokenize with truncation=True and max_length set to the context length"
            )

        # Token plus position embeddings.
        x = self.token_embedding(input_ids) + self.position_embedding[:length]  # (B_txt, T_txt, D_txt)

        # Causal blocks: each token attends to itself and the tokens before it, never to padding.
        mask = build_mask(attention_mask, length, length, causal=True, device=input_ids.device)
        attentions = []
        for block in self.blocks:
            x, attn_weights = block(x, mask=mask)  # (B_txt, T_txt, D_txt)
            attentions.append(attn_weights)
        x = self.final_norm(x)

        # Read out at the end-of-text token: with a causal mask, it is the only
        # position that has seen the whole caption.
        eos_positions = self.eos_positions(input_ids)  # (B_txt,)
        pooled = x[torch.arange(batch, device=x.device), eos_positions]  # (B_txt, D_txt)
        return pooled, attentions
    # --8<-- [end:text_forward]

    def eos_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Index of the first end-of-text token in each caption."""
        if self.config.eos_token_id == 2:
            # NOTE: Early Hugging Face CLIP configs carry eos_token_id=2 although the
            # end-of-text token is 49407, the largest id; like transformers, we then
            # pool at the largest id in each row.
            return input_ids.argmax(dim=-1)
        is_eos = input_ids == self.config.eos_token_id
        missing = ~is_eos.any(dim=-1)
        if missing.any():
            rows = missing.nonzero().flatten().tolist()
            raise ValueError(
                f"captions at rows {rows} contain no end-of-text token (id {self.config.eos_token_id}); "
                "CLIP pools at that token, so tokenize with the model's tokenizer, which appends it"
            )
        return is_eos.int().argmax(dim=-1)


class CLIP(nn.Module):
    """CLIP (Radford et al. 2021): image tower, text tower, projections and a learned temperature."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        self.vision = VisionTransformer(config.vision)
        self.text = CLIPTextTransformer(config)
        self.visual_projection = nn.Linear(config.vision.width, config.embed_dim, bias=False)
        self.text_projection = nn.Linear(config.text_width, config.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init))

    # --8<-- [start:encode]
    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Project each image's normalized CLS token into the shared space (B_img, D_emb), not yet unit length."""
        cls = self.vision(pixel_values).last_hidden_state[:, 0]  # (B_img, D_img)
        return self.visual_projection(self.vision.final_norm(cls))  # (B_img, D_emb)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Project each caption's end-of-text vector into the shared space (B_txt, D_emb), not yet unit length."""
        pooled, _ = self.text(input_ids, attention_mask)  # (B_txt, D_txt)
        return self.text_projection(pooled)  # (B_txt, D_emb)
    # --8<-- [end:encode]

    # --8<-- [start:temperature]
    def temperature_scale(self) -> torch.Tensor:
        """Return exp(logit_scale), the factor that sharpens the cosine similarities."""
        return self.logit_scale.exp()

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """Clip logit_scale to [0, log(max_logit_scale)] in place; call it after every optimizer step.

        The clip applies to the parameter, not to the forward pass, as in open_clip's
        training loop. A loaded checkpoint is therefore used as it is.
        """
        self.logit_scale.clamp_(0.0, math.log(self.config.max_logit_scale))
    # --8<-- [end:temperature]

    # --8<-- [start:forward]
    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> CLIPOutput:
        if output_attentions:
            check_weights_available(self)

        # Both towers, each ending in one vector per input.
        vision_out = self.vision(pixel_values, output_attentions=output_attentions)
        cls = self.vision.final_norm(vision_out.last_hidden_state[:, 0])  # (B_img, D_img)
        image_embeds = self.visual_projection(cls)  # (B_img, D_emb)
        pooled, text_attentions = self.text(input_ids, attention_mask)
        text_embeds = self.text_projection(pooled)  # (B_txt, D_emb)

        # Cosine similarity of every image with every caption, times the temperature.
        logits_per_image = similarity_logits(image_embeds, text_embeds, self.temperature_scale())  # (B_img, B_txt)
        return CLIPOutput(
            logits_per_image=logits_per_image,
            logits_per_text=logits_per_image.T,  # (B_txt, B_img)
            image_embeds=l2_normalize(image_embeds),  # unit length
            text_embeds=l2_normalize(text_embeds),
            vision_attentions=vision_out.attentions,
            text_attentions=text_attentions if output_attentions else [],
        )
    # --8<-- [end:forward]

    @classmethod
    def from_hf_state_dict(cls, state_dict: dict[str, torch.Tensor], config: CLIPConfig) -> CLIP:
        """Build a CLIP and fill it with the parameters of a Hugging Face ``CLIPModel``."""
        ours = vit_state_dict_from_hf(state_dict, "vision_model.", "vision.")
        for name, tensor in state_dict.items():
            if not name.startswith("text_model."):
                continue
            name = name.removeprefix("text_model.")
            name = name.replace("embeddings.token_embedding.", "token_embedding.")
            name = name.replace("embeddings.position_embedding.weight", "position_embedding")
            name = name.replace("final_layer_norm.", "final_norm.").replace("encoder.layers.", "blocks.")
            name = name.replace("layer_norm1.", "norm1.").replace("layer_norm2.", "norm2.")
            ours["text." + name.replace("self_attn.", "attn.")] = tensor
        ours["visual_projection.weight"] = state_dict["visual_projection.weight"]
        ours["text_projection.weight"] = state_dict["text_projection.weight"]
        ours["logit_scale"] = state_dict["logit_scale"]

        model = cls(config)
        model.load_state_dict(ours, strict=True)
        return model.eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> CLIP:
        """Load a ``CLIPModel`` folder written by ``save_pretrained`` (config.json + model.safetensors)."""
        config_dict, state_dict = read_hf_folder(folder)
        return cls.from_hf_state_dict(state_dict, CLIPConfig.from_hf(config_dict))


# --8<-- [start:similarity]
def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Divide each row by its L2 norm, sqrt(sum of squares), so that it has unit length."""
    # NOTE: written out rather than F.normalize, whose norm rounds differently in the
    # last bit; this order of operations reproduces transformers' CLIP logits exactly.
    return x / x.pow(2).sum(dim=-1, keepdim=True).sqrt()


def similarity_logits(image_embeds: torch.Tensor, text_embeds: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Return scale * cos(image, text) for every pair (B_img, B_txt); the inputs need not be unit length."""
    image_embeds = l2_normalize(image_embeds)  # (B_img, D_emb)
    text_embeds = l2_normalize(text_embeds)  # (B_txt, D_emb)
    return (image_embeds @ text_embeds.T) * scale  # (B_img, B_txt)
# --8<-- [end:similarity]


# --8<-- [start:loss]
def contrastive_loss(logits_per_image: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE loss (Radford et al. 2021, figure 3): image i must pick caption i, and caption i image i."""
    targets = torch.arange(logits_per_image.shape[0], device=logits_per_image.device)
    loss_images = F.cross_entropy(logits_per_image, targets)  # each row: which caption?
    loss_texts = F.cross_entropy(logits_per_image.T, targets)  # each column: which image?
    return (loss_images + loss_texts) / 2
# --8<-- [end:loss]
