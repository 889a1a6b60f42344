"""Forward-pass speed of the from-scratch models against transformers, on the same weights and batch.

For CLIP, LLaVA and the BLIP captioner, one run times three forward passes on
identical inputs: transformers (its default attention: SDPA for CLIP and LLaVA,
eager for BLIP, which has no other), vlmbook's fast path (fused SDPA) and
vlmbook's manual path (the one that returns attention weights). The three run
in turn, so that the load of a shared machine affects all of them alike. The
script prints the ratios to transformers and writes them to
benchmarks/results/forward_speed.json.
The goal is fast path <= 1.1 x transformers; the manual path is reported only.

    python benchmarks/forward_speed.py [--repeats 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import transformers

from vlmbook.attention import set_fast_attention
from vlmbook.blip import BlipForCaptioning
from vlmbook.clip import CLIP
from vlmbook.llava import Llava

GOAL = 1.1
RESULTS = Path(__file__).parent / "results" / "forward_speed.json"


def clip_case(folder: Path, batch: int):
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=1000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                         num_attention_heads=8, max_position_embeddings=32, eos_token_id=999),
        vision_config=dict(image_size=64, patch_size=8, hidden_size=256, intermediate_size=1024,
                           num_hidden_layers=4, num_attention_heads=8),
        projection_dim=128,
    )
    transformers.CLIPModel(config).save_pretrained(folder)
    input_ids = torch.randint(1, 998, (batch, 32))
    input_ids[:, -1] = 999
    inputs = dict(input_ids=input_ids, pixel_values=torch.rand(batch, 3, 64, 64))
    reference = transformers.CLIPModel.from_pretrained(folder).eval()
    return reference, CLIP.from_pretrained(folder), inputs


def llava_case(folder: Path, batch: int):
    vision = transformers.CLIPVisionConfig(image_size=64, patch_size=8, hidden_size=256, intermediate_size=1024,
                                           num_hidden_layers=4, num_attention_heads=8)
    text = transformers.LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
                                    num_attention_heads=8, num_key_value_heads=4)
    config = transformers.LlavaConfig(vision_config=vision, text_config=text, image_token_id=999)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(folder)
    text_ids = torch.randint(3, 998, (batch, 24))
    input_ids = torch.cat([text_ids[:, :8], torch.full((batch, 64), 999), text_ids[:, 8:]], dim=1)
    inputs = dict(input_ids=input_ids, pixel_values=torch.rand(batch, 3, 64, 64))
    reference = transformers.LlavaForConditionalGeneration.from_pretrained(folder).eval()
    return reference, Llava.from_pretrained(folder), inputs


def blip_case(folder: Path, batch: int):
    """BLIP captioning with teacher forcing; transformers' BLIP has no SDPA path, so it runs eager attention."""
    text = dict(vocab_size=1000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
                encoder_hidden_size=256, max_position_embeddings=64, bos_token_id=998)
    vision = dict(image_size=64, patch_size=8, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                  num_attention_heads=8)
    transformers.BlipForConditionalGeneration(
        transformers.BlipConfig(text_config=text, vision_config=vision)
    ).save_pretrained(folder)
    inputs = dict(pixel_values=torch.rand(batch, 3, 64, 64), input_ids=torch.randint(3, 990, (batch, 24)))
    reference = transformers.BlipForConditionalGeneration.from_pretrained(folder).eval()
    return reference, BlipForCaptioning.from_pretrained(folder), inputs


def interleaved_medians(variants: dict, inputs: dict, repeats: int) -> dict[str, float]:
    """Median seconds per forward pass of each model, timing them in turn so they share the same load."""
    times = {name: [] for name in variants}
    with torch.no_grad():
        for model in variants.values():  # warm-up
            for _ in range(3):
                model(**inputs)
        for _ in range(repeats):
            for name, model in variants.items():
                start = time.perf_counter()
                model(**inputs)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed forward passes per variant")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (fewer means less noise)")
    parser.add_argument("--batch", type=int, default=8, help="images (and texts) per forward pass")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "torch": torch.__version__, "transformers": transformers.__version__,
               "machine": platform.processor() or platform.machine(), "threads": args.threads,
               "batch": args.batch, "repeats": args.repeats, "goal_fast_over_transformers": GOAL, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in (("clip", clip_case), ("llava", llava_case), ("blip-captioning", blip_case)):
            reference, ours, inputs = build(Path(tmp) / name, args.batch)
            fast = set_fast_attention(copy.deepcopy(ours), True)
            manual = set_fast_attention(ours, False)
            medians = interleaved_medians({"hf": reference, "fast": fast, "manual": manual}, inputs, args.repeats)
            hf_time, fast_time, manual_time = medians["hf"], medians["fast"], medians["manual"]
            row = {"transformers_ms": 1000 * hf_time, "fast_ms": 1000 * fast_time, "manual_ms": 1000 * manual_time,
                   "fast_ratio": fast_time / hf_time, "manual_ratio": manual_time / hf_time}
            results["models"][name] = row
            verdict = "meets" if row["fast_ratio"] <= GOAL else "MISSES"
            print(f"{name:15s} transformers {row['transformers_ms']:7.1f} ms | fast {row['fast_ms']:7.1f} ms "
                  f"= {row['fast_ratio']:.2f}x ({verdict} <= {GOAL}x) | manual {row['manual_ms']:7.1f} ms "
                  f"= {row['manual_ratio']:.2f}x")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
