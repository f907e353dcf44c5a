"""A tiny, PaliGemma-shaped Pi0 / Pi0.5 for CPU tests on LeRobot 0.6 (no download).

LeRobot 0.6.1 builds Pi0 and Pi0.5 from two fixed Gemma variants (``gemma_2b`` VLM, ``gemma_300m`` action
expert) on a SigLIP-so400m vision tower, ~3.5 B parameters, and tokenizes with ``google/paligemma-3b-pt-224``
from the Hub. Neither fits a 2-core CI machine without internet, so for tests only:

- the PaliGemma config LeRobot instantiates (``CONFIG_MAPPING["paligemma"]()``) gets a one-layer SigLIP tower,
  through transformers' public ``AutoConfig.register``;
- the two Gemma variants LeRobot's pi0/pi05 modules read are shrunk to one layer of 8 heads of width 16 (the
  VLM keeps width 2048: LeRobot wires the image projector to 2048, so the VLM must match; its vocabulary of
  257152 stays too, so the model still has ~1.06 B parameters, nearly all in two embedding tables, ~4 GB of
  memory, built in tens of seconds: compute is tiny, memory is not);
- a word-level tokenizer is placed where ``huggingface_hub`` finds ``google/paligemma-3b-pt-224`` offline.

Everything else (PaliGemmaWithExpertModel, flow matching, the processors, lerobot-train, lerobot-eval) is stock.
Real checkpoints (``--policy.path=lerobot/pi0_base``) load by the same code on users' machines.
Use :func:`cli` to run a stock ``lerobot-*`` entry point with the tiny model installed in that process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PALIGEMMA_REPO = "google/paligemma-3b-pt-224"
SNAPSHOT = "0000000000000000000000000000000000000000"
WORDS = (  # the tokenizer's vocabulary: the tasks' instructions, lower-cased
    "pick", "up", "the", "red", "cube", "put", "in", "green", "zone", "move", "gripper", "to",
    "target", "grab", "block", "a", "an", "of", "and", "with",
)  # fmt: skip


def _tiny_gemma(variant: str):
    from lerobot.policies.pi0.modeling_pi0 import GemmaConfig

    if variant not in ("gemma_2b", "gemma_300m"):
        raise ValueError(f"Unknown variant: {variant}")
    # Same depth, heads and head_dim for both (their attention is joint; LeRobot hard-codes 8 query heads);
    # widths as LeRobot's wiring needs.
    width = 2048 if variant == "gemma_2b" else 32
    return GemmaConfig(width=width, depth=1, mlp_dim=32, num_heads=8, num_kv_heads=1, head_dim=16)


def install() -> None:
    """Shrink Pi0 / Pi0.5 in this process (see the module docstring)."""
    import lerobot.policies.pi0.modeling_pi0 as pi0
    import lerobot.policies.pi05.modeling_pi05 as pi05
    from transformers import AutoConfig, PaliGemmaConfig, SiglipVisionConfig

    class TinyPaliGemmaConfig(PaliGemmaConfig):
        def __init__(self, vision_config=None, **kwargs):
            if vision_config is None:
                vision_config = SiglipVisionConfig(
                    hidden_size=32, num_hidden_layers=1, num_attention_heads=1, intermediate_size=32, patch_size=14
                )
            super().__init__(vision_config=vision_config, **kwargs)

    AutoConfig.register("paligemma", TinyPaliGemmaConfig, exist_ok=True)
    pi0.get_gemma_config = _tiny_gemma
    pi05.get_gemma_config = _tiny_gemma


def write_tokenizer(hf_home: Path) -> Path:
    """A word-level tokenizer as an offline Hugging Face cache snapshot of ``google/paligemma-3b-pt-224``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate([*specials, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    org, name = PALIGEMMA_REPO.split("/")
    repo = hf_home / "hub" / f"models--{org}--{name}"
    snap = repo / "snapshots" / SNAPSHOT
    fast.save_pretrained(snap)
    # AutoTokenizer reads the repo's config.json first (for the model type).
    (snap / "config.json").write_text(json.dumps({"model_type": "paligemma"}))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    return snap


def cli(module: str) -> list[str]:
    """argv that runs stock ``lerobot.scripts.<module>:main`` with the tiny Pi0 installed (append CLI args)."""
    code = (
        f"import sys; sys.path.insert(0, {json.dumps(str(Path(__file__).parent))}); import tiny_pi0; "
        f"tiny_pi0.install(); from lerobot.scripts.{module} import main; sys.exit(main())"
    )
    return [sys.executable, "-c", code]
