"""Generator: how the embedded BLIP checkpoints were trained, from the metrics.json beside each one."""

from vlmbook.book import markdown
from vlmbook.checkpoints import recorded_metrics

NAMES = ("blip-captioning", "blip-vqa", "blip-itm")
HEADLINE = {  # the metric that says the most about each task
    "blip-captioning": "attribute_accuracy",
    "blip-vqa": "vqa_accuracy_all",
    "blip-itm": "itm_roc_auc",
}
HEADERS = {
    "ko": "| 체크포인트 | 학습 스텝 | 학습 시간 | 파라미터 수 | 주요 지표 (`test`) |",
    "en": "| checkpoint | steps | training time | parameters | headline metric (`test`) |",
}


@markdown("blip-training-table")
def training_table(lang: str) -> str:
    lines = [HEADERS[lang], "| --- | --- | --- | --- | --- |"]
    for name in NAMES:
        record = recorded_metrics(name)
        if not record:
            raise FileNotFoundError(f"vlmbook/embedded/{name}/metrics.json not found; train it with `vlmbook train {name}`")
        metric = HEADLINE[name]
        seconds = f"{record['train_seconds']:.0f} s" if lang == "en" else f"{record['train_seconds']:.0f}초"
        lines.append(
            f"| `{name}` | {record['steps']} | {seconds} | {record['parameters']:,} | "
            f"`{metric}` {record['metrics'][metric]:.3f} |"
        )
    return "\n".join(lines)


@markdown("blip-training-machine")
def training_machine(lang: str) -> str:
    return recorded_metrics("blip-captioning").get("machine", "unknown")
