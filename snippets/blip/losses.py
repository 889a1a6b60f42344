"""BLIP's three pre-training losses (Li et al. 2022, arXiv 2201.12086, section 3.2), from scratch.

Each section is one loss, embedded in the chapter right after its equation.
The inputs are small seeded tensors, so the printed values are the same on
every machine with the same PyTorch version.

Shape legend:
    B      batch size (image-text pairs)
    D_itc  width of the contrastive space
    T      text positions;  V  vocabulary size
"""

# --8<-- [start:itc]
import torch
import torch.nn.functional as F


def itc_loss(image_feat: torch.Tensor, text_feat: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Image-text contrastive loss: pair i is the right answer in row i and in column i."""
    image_feat = F.normalize(image_feat, dim=-1)  # (B, D_itc)
    text_feat = F.normalize(text_feat, dim=-1)  # (B, D_itc)
    logits_per_image = image_feat @ text_feat.T / temperature  # (B, B): row i = image i against every text
    targets = torch.arange(len(image_feat))  # (B,)

    # Average the image-to-text and text-to-image cross-entropies.
    image_to_text = F.cross_entropy(logits_per_image, targets)
    text_to_image = F.cross_entropy(logits_per_image.T, targets)
    return (image_to_text + text_to_image) / 2
# --8<-- [end:itc]

# --8<-- [start:itc_demo]
generator = torch.Generator().manual_seed(0)
image_feat = torch.randn(4, 8, generator=generator)  # (B, D_itc)
aligned_text = image_feat + 0.3 * torch.randn(4, 8, generator=generator)  # each text close to its image
random_text = torch.randn(4, 8, generator=generator)  # no relation to the images
print(f"aligned: {itc_loss(image_feat, aligned_text):.3f}")
print(f"random:  {itc_loss(image_feat, random_text):.3f}")
# --8<-- [end:itc_demo]

# --8<-- [start:hard_negatives]
import torch


def sample_hard_negatives(similarity: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each image, draw the index of one wrong text; a more similar text is drawn more often.

    similarity: (B, B) contrastive scores, row i = image i against every text.
    """
    weights = similarity.softmax(dim=1)  # (B, B): rows sum to 1
    weights = weights.fill_diagonal_(0)  # the matching text is never a negative
    return torch.multinomial(weights, num_samples=1, generator=generator).squeeze(1)  # (B,)
# --8<-- [end:hard_negatives]

# --8<-- [start:itm]
def itm_loss(match_logits: torch.Tensor, is_match: torch.Tensor) -> torch.Tensor:
    """Image-text matching loss: two-way cross-entropy, index 1 = "match".

    match_logits: (B, 2) from the ITM head on the [Encode] output of the image-grounded
    text encoder; is_match: (B,) 1 or 0.
    """
    return F.cross_entropy(match_logits, is_match)
# --8<-- [end:itm]

# --8<-- [start:itm_demo]
similarity = torch.tensor([[0.9, 0.8, 0.1],   # text 1 is almost as close to image 0 as text 0
                           [0.2, 0.9, 0.1],
                           [0.1, 0.3, 0.9]]) / 0.07  # (B, B), divided by the temperature
negative_index = sample_hard_negatives(similarity, torch.Generator().manual_seed(0))
print("negative text for each image:", negative_index.tolist())
# --8<-- [end:itm_demo]

# --8<-- [start:lm]
import torch
import torch.nn.functional as F


def lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Language modeling loss: position t predicts token t + 1; padding is not predicted.

    logits: (B, T, V) from the image-grounded decoder; input_ids: (B, T), "[DEC] words [SEP]".
    """
    predictions = logits[:, :-1]  # (B, T - 1, V): the last position has nothing left to predict
    targets = input_ids[:, 1:].masked_fill(input_ids[:, 1:] == pad_id, -100)  # (B, T - 1)
    return F.cross_entropy(predictions.flatten(0, 1), targets.flatten(), ignore_index=-100)
# --8<-- [end:lm]

# --8<-- [start:lm_demo]
vocab_size, pad_id = 10, 0
input_ids = torch.tensor([[1, 5, 6, 7, 2, 0]])  # (B, T): [DEC] a red circle [SEP] [PAD]
sure = torch.full((1, 6, vocab_size), -5.0)  # (B, T, V): a decoder sure of every next word
sure[0, torch.arange(5), input_ids[0, 1:]] = 5.0
print(f"sure decoder:    {lm_loss(sure, input_ids, pad_id):.3f}")
print(f"uniform decoder: {lm_loss(torch.zeros(1, 6, vocab_size), input_ids, pad_id):.3f}")
# --8<-- [end:lm_demo]
