"""Write a synthetic, offline SmolVLM directory that SmolVLA can be built from.

SmolVLA builds its backbone with ``AutoConfig`` / ``AutoProcessor`` / ``AutoTokenizer.from_pretrained(
vlm_model_name)``. With ``load_vlm_weights=False`` the weights are random anyway, so a local directory holding a
config, an image/video processor config and a tokenizer is all it needs. This module writes such a directory
with no download: the tokenizer is a byte-level BPE without merges (one token per byte) built with the
``tokenizers`` library, plus the special tokens SmolVLA and ``SmolVLMProcessor`` look up
(``fake_image_token``, ``global_image_token``, ``image_token``, ``end_of_utterance_token``).

It is meant for tests (``size="tiny"``) and for timing the real architecture (``size="500m"``, the
SmolVLM2-500M-Video-Instruct dimensions with random weights). It is **not** a substitute for the real
SmolVLM2 files when training a policy you care about: use the real tokenizer and weights then.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

SPECIAL_TOKENS = {
    "fake_image_token": "<fake_token_around_image>",
    "global_image_token": "<global-img>",
    "image_token": "<image>",
    "end_of_utterance_token": "<end_of_utterance>",
}
_PAD, _BOS, _EOS, _UNK = "<|im_end|>", "<|im_start|>", "<|endoftext|>", "<unk>"

# SmolVLM2-500M-Video-Instruct (text: SmolLM2-360M, vision: SigLIP-B/16 at 512 px, pixel-shuffle factor 4).
_DIMS: dict[str, dict] = {
    "500m": {
        "text": {
            "hidden_size": 960,
            "intermediate_size": 2560,
            "num_hidden_layers": 32,
            "num_attention_heads": 15,
            "num_key_value_heads": 5,
            "head_dim": 64,
            "rope_theta": 100000.0,
            "rms_norm_eps": 1e-5,
            "max_position_embeddings": 8192,
            "vocab_size": 49280,
        },
        "vision": {
            "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
            "image_size": 512, "patch_size": 16,
        },
        "scale_factor": 4,
    },
    "tiny": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "rope_theta": 100000.0,
            "rms_norm_eps": 1e-5,
            "max_position_embeddings": 512,
            "vocab_size": 384,
        },
        "vision": {
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "image_size": 64, "patch_size": 16,
        },
        "scale_factor": 2,
    },
}


def image_size_of(size: Literal["tiny", "500m"]) -> int:
    """The vision encoder's input size, which SmolVLA's ``resize_imgs_with_padding`` should match."""
    return _DIMS[size]["vision"]["image_size"]


def _build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [_PAD, _BOS, _EOS, _UNK, *SPECIAL_TOKENS.values()]
    tok.add_special_tokens(specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=_BOS,
        eos_token=_EOS,
        pad_token=_PAD,
        unk_token=_UNK,
        model_max_length=8192,
        extra_special_tokens=dict(SPECIAL_TOKENS),
    )


def write_local_smolvlm(target: str | os.PathLike, size: Literal["tiny", "500m"] = "tiny") -> Path:
    """Write a loadable SmolVLM directory (config, processor and tokenizer files, no weights) to ``target``.

    The directory is assembled in a temporary sibling and renamed into place, so a half-written directory is
    never left behind. ``target`` must not exist yet.
    """
    from transformers import SmolVLMConfig, SmolVLMProcessor
    from transformers.models.smolvlm.image_processing_smolvlm import SmolVLMImageProcessor
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor

    if size not in _DIMS:
        raise ValueError(f"size must be one of {sorted(_DIMS)}, got {size!r}")
    target = Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose a fresh directory for the local SmolVLM copy")
    dims = _DIMS[size]

    tokenizer = _build_tokenizer()
    if len(tokenizer) > dims["text"]["vocab_size"]:
        raise AssertionError(f"tokenizer has {len(tokenizer)} tokens, more than vocab_size")
    image_token_id = tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS["image_token"])
    vision = dims["vision"]
    image_seq_len = (vision["image_size"] // vision["patch_size"]) ** 2 // dims["scale_factor"] ** 2

    config = SmolVLMConfig(
        text_config={"model_type": "llama", **dims["text"], "pad_token_id": tokenizer.pad_token_id},
        vision_config={"model_type": "smolvlm_vision", **vision},
        scale_factor=dims["scale_factor"],
        image_token_id=image_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config.architectures = ["SmolVLMForConditionalGeneration"]
    edge = {"longest_edge": vision["image_size"]}
    image_processor = SmolVLMImageProcessor(
        size=edge, max_image_size=edge, image_mean=[0.5] * 3, image_std=[0.5] * 3, do_image_splitting=False
    )
    video_processor = SmolVLMVideoProcessor(size=edge, max_image_size=edge, image_mean=[0.5] * 3,
                                            image_std=[0.5] * 3)
    processor = SmolVLMProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        image_seq_len=image_seq_len,
    )

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        config.save_pretrained(staging)
        processor.save_pretrained(staging)
        (staging / "README.md").write_text(
            f"Synthetic SmolVLM ({size}) written by lerobot_policy_smolvla_tactile.local_smolvlm: config, "
            "processor and a byte-level tokenizer, no weights. For offline tests and benchmarks only.\n"
        )
        json.loads((staging / "config.json").read_text())  # fail early on a broken write
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
