"""BLIP from scratch: one ViT, and BERT-style text transformers that read it through cross-attention.

Li et al. 2022, "BLIP: Bootstrapping Language-Image Pre-training for Unified
Vision-Language Understanding and Generation", arXiv 2201.12086. Three models
share the ViT image encoder:

- image-text matching (ITM, figure 2): the image-grounded text encoder reads
  the image through cross-attention, and a linear head on its [CLS] vector
  predicts "match" or "no match";
- captioning (the language-modeling objective of figure 2): the image-grounded
  text decoder writes the caption;
- visual question answering: the question is encoded together with the image,
  and an answer decoder reads the encoded question, not the image.

The ViT here is pre-norm with a final LayerNorm on every token; the text
transformers are post-norm (``vlmbook.text``), as in transformers' BLIP.

Shape legend:
    B        batch size
    N_img    image tokens: CLS plus N_patch patches
    T_q      question tokens;  T_txt caption or answer tokens
    D_img    vision width;  D_txt text width;  D_itc width of the contrastive space
    V        vocabulary size
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vlmbook.attention import check_weights_available
from vlmbook.text import TextConfig, TextDecoder, TextOutput, TextTransformer, text_state_dict_from_hf
from vlmbook.transformer import read_hf_folder
from vlmbook.vision import VisionOutput, VisionTransformer, ViTConfig, vit_state_dict_from_hf


def blip_vit_tiny() -> ViTConfig:
    return ViTConfig(act="gelu", patch_bias=True, pre_norm=False)


@dataclass
class BlipConfig:
    """Sizes of a BLIP model. Defaults are the ``tiny`` preset trained on ShapesWorld."""

    vision: ViTConfig = field(default_factory=blip_vit_tiny)  # BLIP's ViT: exact GELU, patch bias, no pre-norm
    text: TextConfig = field(default_factory=TextConfig.tiny)  # shared by the encoder and the decoder
    itc_dim: int = 32  # D_itc: the image-text contrastive space of the retrieval model

    @classmethod
    def tiny(cls) -> BlipConfig:
        return cls()

    @classmethod
    def base(cls) -> BlipConfig:
        """``Salesforce/blip-image-captioning-base``, for reference: ViT-B/16 at 384 px and BERT-base."""
        vision = ViTConfig(image_size=384, patch_size=16, width=768, num_layers=12, num_heads=12, mlp_dim=3072,
                           act="gelu", patch_bias=True, pre_norm=False)
        return cls(vision=vision, text=TextConfig.bert_base(), itc_dim=256)

    @classmethod
    def from_hf(cls, hf: dict) -> BlipConfig:
        """Read the ``config.json`` of a Hugging Face BLIP model."""
        return cls(
            vision=ViTConfig.from_hf(hf.get("vision_config", {}), clip_style=False),
            text=TextConfig.from_hf(hf.get("text_config", {})),
            itc_dim=hf.get("image_text_hidden_size", 256),
        )


class BlipBase(nn.Module):
    """Base of the three BLIP models: the shared ViT and loading from a Hugging Face folder."""

    hf_text_modules: dict[str, str] = {}  # Hugging Face prefix -> our attribute

    def __init__(self, config: BlipConfig):
        super().__init__()
        self.config = config
        self.vision = VisionTransformer(config.vision)

    # --8<-- [start:encode_image]
    def encode_image(
        self, pixel_values: torch.Tensor, output_attentions: bool = False
    ) -> tuple[torch.Tensor, VisionOutput]:
        """Return every image token after BLIP's final LayerNorm (B, N_img, D_img), and the ViT's output."""
        vision_out = self.vision(pixel_values, output_attentions=output_attentions)
        return self.vision.final_norm(vision_out.last_hidden_state), vision_out  # (B, N_img, D_img)
    # --8<-- [end:encode_image]

    @classmethod
    def from_hf_state_dict(cls, state_dict: dict[str, torch.Tensor], config: BlipConfig):
        ours = vit_state_dict_from_hf(state_dict, "vision_model.", "vision.")
        for hf_prefix, attribute in cls.hf_text_modules.items():
            ours.update(text_state_dict_from_hf(state_dict, hf_prefix, attribute + "."))
        for name, tensor in state_dict.items():
            if name.split(".")[0] in ("itm_head", "vision_proj", "text_proj"):
                ours[name] = tensor
        model = cls(config)
        model.load_state_dict(ours, strict=True)
        return model.eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path):
        """Load a folder written by the matching transformers class's ``save_pretrained``."""
        config_dict, state_dict = read_hf_folder(folder)
        return cls.from_hf_state_dict(state_dict, BlipConfig.from_hf(config_dict))


class BlipForImageTextMatching(BlipBase):
    """BLIP's image-grounded text encoder with its ITM head (figure 2 of the paper).

    Loads ``BlipForImageTextRetrieval``: ``forward`` is its ``use_itm_head=True``
    path and ``contrastive_scores`` its ``use_itm_head=False`` path.
    """

    hf_text_modules = {"text_encoder.": "text_encoder"}

    def __init__(self, config: BlipConfig):
        super().__init__(config)
        self.text_encoder = TextTransformer(config.text)
        self.itm_head = nn.Linear(config.text.width, 2)
        self.vision_proj = nn.Linear(config.vision.width, config.itc_dim)
        self.text_proj = nn.Linear(config.text.width, config.itc_dim)

    # --8<-- [start:itm]
    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, TextOutput]:
        """Return ITM logits (B, 2), index 1 meaning "the text matches the image", and the encoder's output."""
        if output_attentions:
            check_weights_available(self)
        image_embeds, _ = self.encode_image(pixel_values)  # (B, N_img, D_img)

        # The text reads every image token through cross-attention in each layer.
        text_out = self.text_encoder(input_ids, attention_mask, context=image_embeds)

        # The [CLS] position now summarizes text and image together.
        return self.itm_head(text_out.hidden_states[:, 0]), text_out  # (B, 2)
    # --8<-- [end:itm]

    def contrastive_scores(
        self, input_ids: torch.Tensor, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Cosine similarity of every image with every text (B_img, B_txt), from unimodal [CLS] features (ITC)."""
        image_embeds, _ = self.encode_image(pixel_values)
        text_out = self.text_encoder(input_ids, attention_mask)  # no image: the text encoder alone
        image_feat = F.normalize(self.vision_proj(image_embeds[:, 0]), dim=-1)  # (B_img, D_itc)
        text_feat = F.normalize(self.text_proj(text_out.hidden_states[:, 0]), dim=-1)  # (B_txt, D_itc)
        return image_feat @ text_feat.T  # (B_img, B_txt)


class BlipForCaptioning(BlipBase):
    """BLIP's image-grounded text decoder (figure 2 of the paper). Loads ``BlipForConditionalGeneration``."""

    hf_text_modules = {"text_decoder.": "text_decoder"}

    def __init__(self, config: BlipConfig):
        super().__init__(config)
        self.text_decoder = TextDecoder(config.text)

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, TextOutput]:
        """Return next-token logits (B, T_txt, V) and the decoder's output, cross-attention maps included."""
        if output_attentions:
            check_weights_available(self)
        image_embeds, _ = self.encode_image(pixel_values)  # (B, N_img, D_img)
        return self.text_decoder(input_ids, image_embeds, attention_mask=attention_mask)

    # --8<-- [start:caption]
    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor,
        prompt_ids: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Caption each image greedily; return [DEC], the prompt, the caption and [SEP] (B, T)."""
        image_embeds, _ = self.encode_image(pixel_values)  # (B, N_img, D_img)
        bos = self.config.text.bos_token_id
        if prompt_ids is None:
            start_ids = torch.full((len(pixel_values), 1), bos, device=image_embeds.device)  # (B, 1)
        else:
            # A tokenized prompt is "[CLS] a picture of [SEP]": [CLS] becomes [DEC] and [SEP] is dropped.
            start_ids = prompt_ids[:, :-1].clone()
            start_ids[:, 0] = bos
        return self.text_decoder.generate(start_ids, image_embeds, max_new_tokens=max_new_tokens, use_cache=use_cache)
    # --8<-- [end:caption]


class BlipForQuestionAnswering(BlipBase):
    """BLIP's VQA model: a question encoder that reads the image, and an answer decoder."""

    hf_text_modules = {"text_encoder.": "text_encoder", "text_decoder.": "text_decoder"}

    def __init__(self, config: BlipConfig):
        super().__init__(config)
        self.text_encoder = TextTransformer(config.text)
        self.text_decoder = TextDecoder(config.text)

    # --8<-- [start:vqa]
    def encode_question(
        self, input_ids: torch.Tensor, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> TextOutput:
        """Encode the question while it reads the image (B, T_q, D_txt)."""
        image_embeds, _ = self.encode_image(pixel_values)  # (B, N_img, D_img)
        return self.text_encoder(input_ids, attention_mask, context=image_embeds)

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, TextOutput]:
        """Return answer logits (B, T_txt, V); the decoder reads the encoded question, not the image."""
        if output_attentions:
            check_weights_available(self)
        question = self.encode_question(input_ids, pixel_values, attention_mask).hidden_states  # (B, T_q, D_txt)
        # NOTE: transformers 5.25 drops encoder_attention_mask inside BlipTextAttention,
        # so its answer decoder attends to padded question positions too. We do the
        # same to match it, although TextDecoder accepts a context_mask that would mask them.
        return self.text_decoder(decoder_input_ids, question)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        max_new_tokens: int = 10,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Answer each question greedily; return [DEC], the answer and [SEP] (B, T)."""
        question = self.encode_question(input_ids, pixel_values, attention_mask).hidden_states  # (B, T_q, D_txt)
        start_ids = torch.full((len(input_ids), 1), self.config.text.bos_token_id, device=question.device)
        # As in forward, the answer decoder attends to every question position, padding included.
        return self.text_decoder.generate(start_ids, question, max_new_tokens=max_new_tokens, use_cache=use_cache)
    # --8<-- [end:vqa]
