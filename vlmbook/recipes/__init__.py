"""Training recipes, one per checkpoint name: data, loss and evaluation."""

from __future__ import annotations

NAMES = ("clip", "blip-captioning", "blip-vqa", "blip-itm", "llava")


def get_recipe(name: str, seed: int = 0):
    """Return the recipe object of a checkpoint name."""
    if name == "clip":
        from vlmbook.recipes.clip import ClipRecipe

        return ClipRecipe(seed=seed)
    if name in ("blip-captioning", "blip-vqa", "blip-itm"):
        from vlmbook.recipes.blip import BLIP_RECIPES

        return BLIP_RECIPES[name](seed=seed)
    if name == "llava":
        from vlmbook.recipes.llava import LlavaRecipe

        return LlavaRecipe(seed=seed)
    raise ValueError(f"unknown recipe {name!r}; valid names: {', '.join(NAMES)}")
