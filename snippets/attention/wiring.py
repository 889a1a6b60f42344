"""Self-attention, cross-attention and five ways VLMs wire images to text, on CLIP features.

Every variant is a few lines around `vlmbook.attention.MultiHeadAttention`,
with untrained weights: the point is which tensor attends to which, and the
shapes along the way. Each section after `features` continues it: the page
runs `features`, `show_features` and `self_cross` as one script, and then
`features` again before each variant.

Shape legend:
    B        scenes in the batch
    N_img    vision tokens: the CLS token and N_patch patches
    T_txt    caption tokens, padded to the longest caption
    D        width of both CLIP towers (64 in the embedded checkpoint)
    D_lm     width of the toy language model that the image is wired into
"""

# --8<-- [start:features]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.attention import MultiHeadAttention, build_mask
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("clip")
clip = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)

world = ShapesWorld("test", seed=0)
scenes = [world[0], world[1]]
captions = [scene.captions[-1] for scene in scenes]  # short relation captions
inputs = processor(images=[s.image for s in scenes], text=captions, return_tensors="pt", padding=True)

with torch.no_grad():
    image_tokens = clip.vision_model(pixel_values=inputs.pixel_values).last_hidden_state  # (B, N_img, D)
    text_tokens = clip.text_model(input_ids=inputs.input_ids).last_hidden_state  # (B, T_txt, D)
text_padding = inputs.attention_mask  # (B, T_txt), 0 = padding

B, N_img, D = image_tokens.shape
T_txt = text_tokens.shape[1]
# --8<-- [end:features]

# --8<-- [start:show_features]
print("captions     ", captions)
print("image_tokens ", tuple(image_tokens.shape), "= CLS + 8 x 8 patches")
print("text_tokens  ", tuple(text_tokens.shape))
print("text_padding ", text_padding.tolist())
# --8<-- [end:show_features]

# --8<-- [start:self_cross]
torch.manual_seed(0)

# Self-attention: the caption attends to itself; padded keys are masked out.
self_attention = MultiHeadAttention(dim=D, num_heads=2)
text_mask = build_mask(text_padding, num_queries=T_txt, num_keys=T_txt, causal=False)  # (B, 1, 1, T_txt)
text_out, self_weights = self_attention(text_tokens, mask=text_mask)

# Cross-attention: queries from the text, keys and values from the image.
cross_attention = MultiHeadAttention(dim=D, num_heads=2, kv_dim=D)
fused, cross_weights = cross_attention(text_tokens, context=image_tokens)

print("self  weights", tuple(self_weights.shape), "(B, H, T_txt, T_txt)")
print("cross weights", tuple(cross_weights.shape), "(B, H, T_txt, N_img)")
print("cross output ", tuple(fused.shape), "(B, T_txt, D): one vector per word")
# --8<-- [end:self_cross]

# --8<-- [start:co_attention]
# ViLBERT's co-attention: two streams, each one's queries attend to the other's keys and values.
torch.manual_seed(0)
text_to_image = MultiHeadAttention(dim=D, num_heads=2)
image_to_text = MultiHeadAttention(dim=D, num_heads=2)
image_mask = build_mask(text_padding, num_queries=N_img, num_keys=T_txt, causal=False)  # image queries skip padding

text_stream, weights_t2i = text_to_image(text_tokens, context=image_tokens)
image_stream, weights_i2t = image_to_text(image_tokens, context=text_tokens, mask=image_mask)
print("text  stream", tuple(text_stream.shape), "weights", tuple(weights_t2i.shape))
print("image stream", tuple(image_stream.shape), "weights", tuple(weights_i2t.shape))
print("weight on the padded word:", weights_i2t[1, :, :, -1].max().item())
# --8<-- [end:co_attention]

# --8<-- [start:fusion_encoder]
# ALBEF / BLIP: a text layer = self-attention, then cross-attention to the image, each with a residual.
class FusionLayer(torch.nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.self_attention = MultiHeadAttention(dim, num_heads)
        self.cross_attention = MultiHeadAttention(dim, num_heads)
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)

    def forward(self, text, image, text_mask):
        text = text + self.self_attention(self.norm1(text), mask=text_mask)[0]  # (B, T_txt, D)
        update, cross_weights = self.cross_attention(self.norm2(text), context=image)
        return text + update, cross_weights  # (B, T_txt, D), (B, H, T_txt, N_img)


torch.manual_seed(0)
fusion = FusionLayer(D, num_heads=2)
text_mask = build_mask(text_padding, num_queries=T_txt, num_keys=T_txt, causal=False)  # (B, 1, 1, T_txt)
fused_text, fusion_weights = fusion(text_tokens, image_tokens, text_mask)
print("fused text   ", tuple(fused_text.shape), "cross weights", tuple(fusion_weights.shape))
# --8<-- [end:fusion_encoder]

# --8<-- [start:gated]
# Flamingo: a new cross-attention layer in front of a frozen LM layer, scaled by tanh(gate).
class GatedCrossAttention(torch.nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.cross_attention = MultiHeadAttention(dim, num_heads)
        self.gate = torch.nn.Parameter(torch.zeros(1))  # tanh(0) = 0: the LM starts unchanged

    def forward(self, text, image):
        update, _ = self.cross_attention(text, context=image)
        return text + torch.tanh(self.gate) * update  # (B, T_txt, D)


torch.manual_seed(0)
gated = GatedCrossAttention(D, num_heads=2)
gated_text = gated(text_tokens, image_tokens)
print("gated text   ", tuple(gated_text.shape), "equals the input at init:", torch.equal(gated_text, text_tokens))
with torch.no_grad():
    gated.gate.fill_(0.5)  # what training might reach
print("gate 0.5 changes it:", not torch.allclose(gated(text_tokens, image_tokens), text_tokens))
# --8<-- [end:gated]

# --8<-- [start:q_former]
# BLIP-2's Q-Former: learned queries read the image by cross-attention; the image's length drops out.
class QueryTransformer(torch.nn.Module):
    def __init__(self, dim: int, num_heads: int, num_queries: int = 32):
        super().__init__()
        self.queries = torch.nn.Parameter(torch.randn(1, num_queries, dim) * 0.02)  # (1, N_query, D)
        self.self_attention = MultiHeadAttention(dim, num_heads)
        self.cross_attention = MultiHeadAttention(dim, num_heads)

    def forward(self, image):
        queries = self.queries.expand(image.shape[0], -1, -1)  # (B, N_query, D)
        queries = queries + self.self_attention(queries)[0]
        update, weights = self.cross_attention(queries, context=image)
        return queries + update, weights  # (B, N_query, D), (B, H, N_query, N_img)


torch.manual_seed(0)
q_former = QueryTransformer(D, num_heads=2)
visual_tokens, query_weights = q_former(image_tokens)
print("visual tokens", tuple(visual_tokens.shape), "weights", tuple(query_weights.shape))
# --8<-- [end:q_former]

# --8<-- [start:projector]
# LLaVA: project each patch into the LM's embedding space and put the patches in front of the prompt.
torch.manual_seed(0)
D_lm = 96
projector = torch.nn.Sequential(torch.nn.Linear(D, D_lm), torch.nn.GELU(), torch.nn.Linear(D_lm, D_lm))
word_embeddings = torch.nn.Embedding(processor.tokenizer.vocab_size, D_lm)

patch_tokens = image_tokens[:, 1:]  # (B, N_patch, D): LLaVA-1.5 drops CLS ("default" strategy)
image_embeds = projector(patch_tokens)  # (B, N_patch, D_lm)
prompt_embeds = word_embeddings(inputs.input_ids)  # (B, T_txt, D_lm)
sequence = torch.cat([image_embeds, prompt_embeds], dim=1)  # (B, N_patch + T_txt, D_lm)

# The LM's own causal self-attention now reads the image; no new attention layer is needed.
T_all = sequence.shape[1]
padding = torch.cat([torch.ones(B, patch_tokens.shape[1], dtype=torch.long), text_padding], dim=1)
lm_attention = MultiHeadAttention(D_lm, num_heads=4)
lm_out, lm_weights = lm_attention(sequence, mask=build_mask(padding, T_all, T_all, causal=True))
print("sequence     ", tuple(sequence.shape), "weights", tuple(lm_weights.shape))
# --8<-- [end:projector]
