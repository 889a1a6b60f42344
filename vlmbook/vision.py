"""The Vision Transformer (ViT): an image as a sequence of patch tokens plus a CLS token.

Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words", arXiv 2010.11929,
equations 1-4: cut the image into P x P patches, project each patch linearly,
prepend a learned CLS token, add learned position embeddings, run pre-norm
transformer blocks. CLIP, BLIP and LLaVA all see images through this encoder.

Shape legend:
    B        batch size
    C        image channels (3)
    H, W     image height and width in pixels
    P        patch size in pixels
    N_patch  number of patches, (H / P) * (W / P), in row-major order
    D_img    width of the vision transformer
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from vlmbook.attention import check_weights_available
from vlmbook.transformer import MLP, TransformerBlock


@dataclass
class ViTConfig:
    """Sizes of a Vision Transformer. Defaults are the ``tiny`` preset the book trains."""

    image_size: int = 64  # ShapesWorld images are 64 x 64
    patch_size: int = 8  # 8 x 8 patches give an 8 x 8 grid, fine enough to locate an object
    num_channels: int = 3  # RGB
    width: int = 64  # D_img: small enough to train on a CPU in a minute
    num_layers: int = 2  # depth; two layers already show attention maps worth plotting
    num_heads: int = 4  # d_head = 16
    mlp_dim: int = 256  # the usual 4 x width
    act: str = "quick_gelu"  # OpenAI CLIP uses quick_gelu; BLIP uses exact gelu
    norm_eps: float = 1e-5  # LayerNorm epsilon of CLIP and BLIP vision towers
    patch_bias: bool = False  # CLIP's patch projection has no bias, BLIP's has one
    pre_norm: bool = True  # CLIP normalizes the embeddings before the first block, BLIP does not

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size**2

    @classmethod
    def tiny(cls) -> ViTConfig:
        return cls()

    @classmethod
    def vit_b_32(cls) -> ViTConfig:
        """CLIP ViT-B/32 (``openai/clip-vit-base-patch32``), for reference."""
        return cls(image_size=224, patch_size=32, width=768, num_layers=12, num_heads=12, mlp_dim=3072)

    @classmethod
    def from_hf(cls, hf: dict, clip_style: bool = True) -> ViTConfig:
        """Read a Hugging Face ``vision_config`` dict (CLIP-style, or BLIP-style if ``clip_style`` is False).

        A missing key takes transformers' default for that config class, as older
        checkpoints store only the values that differ from the defaults.
        """
        return cls(
            image_size=hf.get("image_size", 224 if clip_style else 384),
            patch_size=hf.get("patch_size", 32 if clip_style else 16),
            num_channels=hf.get("num_channels", 3),
            width=hf.get("hidden_size", 768),
            num_layers=hf.get("num_hidden_layers", 12),
            num_heads=hf.get("num_attention_heads", 12),
            mlp_dim=hf.get("intermediate_size", 3072),
            act=hf.get("hidden_act", "quick_gelu" if clip_style else "gelu"),
            norm_eps=hf.get("layer_norm_eps", 1e-5),
            patch_bias=not clip_style,
            pre_norm=clip_style,
        )


@dataclass
class VisionOutput:
    """Hidden states and attention maps of the ViT for a batch of images."""

    last_hidden_state: torch.Tensor  # (B, 1 + N_patch, D_img), before the final norm
    hidden_states: list[torch.Tensor] = field(default_factory=list)  # embeddings, then each block's output
    attentions: list[torch.Tensor] = field(default_factory=list)  # per block, (B, heads, 1 + N_patch, 1 + N_patch)


# --8<-- [start:patch_embedding]
class PatchEmbedding(nn.Module):
    """Cut the image into P x P patches and project each to D_img (ViT, equation 1).

    A convolution with kernel and stride P is exactly "flatten each patch and
    apply one shared linear map", computed in one call.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.proj = nn.Conv2d(
            config.num_channels,
            config.width,
            kernel_size=config.patch_size,
            stride=config.patch_size,
            bias=config.patch_bias,
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.proj(pixel_values)  # (B, C, H, W) -> (B, D_img, H/P, W/P)
        return patches.flatten(2).transpose(1, 2)  # (B, N_patch, D_img), row by row from the top left
# --8<-- [end:patch_embedding]


class VisionTransformer(nn.Module):
    """ViT encoder with a CLS token (Dosovitskiy et al. 2020, equations 1-4).

    The final LayerNorm (``final_norm``) is applied by the model that uses the
    encoder, because CLIP normalizes only the CLS token and BLIP every token.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        width = config.width
        self.patch_embed = PatchEmbedding(config)
        self.cls_token = nn.Parameter(torch.zeros(width))
        self.position_embedding = nn.Parameter(torch.zeros(1 + config.num_patches, width))
        self.pre_norm = nn.LayerNorm(width, eps=config.norm_eps) if config.pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(
            TransformerBlock(
                width,
                config.num_heads,
                mlp=MLP(width, config.mlp_dim, config.act),
                make_norm=lambda: nn.LayerNorm(width, eps=config.norm_eps),
            )
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(width, eps=config.norm_eps)

    # --8<-- [start:vit_forward]
    def forward(self, pixel_values: torch.Tensor, output_attentions: bool = False) -> VisionOutput:
        """Encode images (B, C, H, W) into one CLS token and N_patch patch tokens."""
        if output_attentions:
            check_weights_available(self)
        self.check_image_size(pixel_values)

        # Patch tokens, with the CLS token in front: it has no patch of its own and
        # gathers a summary of the image through attention.
        patches = self.patch_embed(pixel_values.to(self.position_embedding.dtype))  # (B, N_patch, D_img)
        cls = self.cls_token.expand(patches.shape[0], 1, -1)  # (B, 1, D_img)
        x = torch.cat([cls, patches], dim=1)  # (B, 1 + N_patch, D_img)

        # Learned positions tell the blocks where each patch came from.
        x = self.pre_norm(x + self.position_embedding)

        # Transformer blocks, keeping every hidden state and attention map on the way.
        output = VisionOutput(last_hidden_state=x, hidden_states=[x])
        for block in self.blocks:
            x, attn_weights = block(x)  # (B, 1 + N_patch, D_img)
            output.hidden_states.append(x)
            if output_attentions:
                output.attentions.append(attn_weights)
        output.last_hidden_state = x
        return output
    # --8<-- [end:vit_forward]

    def check_image_size(self, pixel_values: torch.Tensor) -> None:
        if pixel_values.ndim != 4:
            raise ValueError(f"pixel_values must be (B, C, H, W), got shape {tuple(pixel_values.shape)}")
        size = self.config.image_size
        if tuple(pixel_values.shape[1:]) != (self.config.num_channels, size, size):
            raise ValueError(
                f"pixel_values has shape {tuple(pixel_values.shape)}, but this encoder expects "
                f"(B, {self.config.num_channels}, {size}, {size}); resize the images with the model's processor"
            )


def vit_state_dict_from_hf(
    hf: dict[str, torch.Tensor], hf_prefix: str, our_prefix: str
) -> dict[str, torch.Tensor]:
    """Rename the parameters of a Hugging Face CLIP or BLIP vision tower under ``hf_prefix`` to ours.

    Both ship the same pieces with different names and layouts: CLIP keeps the
    position embedding in an ``nn.Embedding`` and separate q/k/v projections,
    BLIP a (1, N, D) parameter and one fused ``qkv`` projection that we split.
    """
    ours: dict[str, torch.Tensor] = {}
    for name, tensor in hf.items():
        if not name.startswith(hf_prefix):
            continue
        name = name[len(hf_prefix) :]
        name = name.replace("embeddings.patch_embedding.", "patch_embed.proj.")
        name = name.replace("embeddings.class_embedding", "cls_token")
        name = name.replace("embeddings.position_embedding.weight", "position_embedding")
        name = name.replace("embeddings.position_embedding", "position_embedding")
        name = name.replace("pre_layrnorm.", "pre_norm.").replace("post_layernorm.", "final_norm.")
        name = name.replace("encoder.layers.", "blocks.")
        name = name.replace("layer_norm1.", "norm1.").replace("layer_norm2.", "norm2.")
        name = name.replace("self_attn.projection.", "attn.out_proj.").replace("self_attn.", "attn.")
        if name in ("cls_token", "position_embedding"):
            tensor = tensor.reshape(-1, tensor.shape[-1]).squeeze(0)
        if ".attn.qkv." in name:
            for proj, part in zip(("q_proj", "k_proj", "v_proj"), tensor.chunk(3, dim=0)):
                ours[our_prefix + name.replace("qkv", proj)] = part
            continue
        ours[our_prefix + name] = tensor
    return ours
