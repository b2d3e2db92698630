"""Text encoder (umT5/T5 encoder by default; any ``AutoModel`` encoder): captions → embeddings + mask.

Where the tokenizer comes from (:func:`text_paths`): ``features.text_tokenizer`` when set; else the encoder's own
folder when it holds tokenizer files; else a sibling ``tokenizer/`` folder (Wan's diffusers layout has
``text_encoder/`` and ``tokenizer/`` side by side; a pipeline folder with ``model_index.json`` resolves to both).
A folder with only ``spiece.model`` (umT5/T5's sentencepiece model) loads as ``T5Tokenizer``; a folder with no
tokenizer file at all is an error that names the files it looked for.
"""
from __future__ import annotations

import logging
import os
from typing import List, Tuple

import torch

from .weights import resolve_local

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")
SENTENCEPIECE = "spiece.model"
log = logging.getLogger("semanticgen.encoders")


def _has_tokenizer(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, f)) for f in (*TOKENIZER_FILES, SENTENCEPIECE))


def text_paths(path: str, tokenizer: str = "") -> Tuple[str, str]:
    """(encoder folder, tokenizer folder) for a local encoder folder or diffusers pipeline folder."""
    if os.path.isfile(os.path.join(path, "model_index.json")) and os.path.isdir(os.path.join(path, "text_encoder")):
        path, tokenizer = os.path.join(path, "text_encoder"), tokenizer or os.path.join(path, "tokenizer")
    if tokenizer:
        return path, tokenizer
    sibling = os.path.join(os.path.dirname(os.path.abspath(path)), "tokenizer")
    if not _has_tokenizer(path) and os.path.isdir(sibling):
        log.info("text encoder %s has no tokenizer files: using the sibling folder %s", path, sibling)
        return path, sibling
    return path, path


def load_tokenizer(folder: str):
    """``AutoTokenizer`` from a tokenizer folder, or ``T5Tokenizer`` from a lone ``spiece.model``."""
    from transformers import AutoTokenizer, T5Tokenizer

    if any(os.path.isfile(os.path.join(folder, f)) for f in TOKENIZER_FILES):
        return AutoTokenizer.from_pretrained(folder)
    if os.path.isfile(os.path.join(folder, SENTENCEPIECE)):
        return T5Tokenizer.from_pretrained(folder)
    raise FileNotFoundError(f"no tokenizer in {folder}: it needs one of {', '.join(TOKENIZER_FILES)} or "
                            f"{SENTENCEPIECE} (set features.text_tokenizer to the tokenizer folder)")


def _encoder_class(model_type: str):
    import transformers

    return {"umt5": transformers.UMT5EncoderModel, "t5": transformers.T5EncoderModel,
            "mt5": transformers.MT5EncoderModel}.get(model_type, transformers.AutoModel)


class TextEncoder:
    def __init__(self, model, tokenizer, max_length: int, device: str = "cpu", dtype: torch.dtype = torch.float32):
        self.model, self.tokenizer = model.to(device=device, dtype=dtype).eval(), tokenizer
        self.max_length, self.device, self.dtype = max_length, device, dtype

    @classmethod
    def from_pretrained(cls, name_or_path: str, max_length: int = 512, device: str = "cpu",
                        dtype: torch.dtype = torch.float32, tokenizer: str = "") -> "TextEncoder":
        from transformers import AutoConfig

        path, tok_dir = text_paths(resolve_local(name_or_path), resolve_local(tokenizer) if tokenizer else "")
        cfg = AutoConfig.from_pretrained(path)
        model, info = _encoder_class(cfg.model_type).from_pretrained(path, dtype=dtype, output_loading_info=True)
        if info.get("missing_keys") or info.get("mismatched_keys"):
            raise KeyError(f"text encoder {path}: missing {sorted(info['missing_keys'])[:3]}, "
                           f"mismatched {list(info.get('mismatched_keys') or [])[:3]}")
        return cls(model, load_tokenizer(tok_dir), max_length, device, dtype)

    @classmethod
    def from_features(cls, fc, device: str = "cpu", dtype: torch.dtype = torch.float32) -> "TextEncoder":
        """The encoder a ``FeaturesConfig`` names (``text_encoder``, ``text_tokenizer``, ``text_max_length``)."""
        return cls.from_pretrained(fc.resolve(fc.text_encoder), max_length=fc.text_max_length, device=device,
                                   dtype=dtype, tokenizer=fc.resolve(fc.text_tokenizer) if fc.text_tokenizer else "")

    @property
    def dim(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "d_model", None) or cfg.hidden_size)

    @torch.no_grad()
    def encode(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """(emb (B, L, D) float32 with padded positions zeroed, mask (B, L) bool), L ≤ max_length."""
        tok = self.tokenizer(list(texts), padding="longest", truncation=True, max_length=self.max_length,
                             return_tensors="pt", add_special_tokens=True)
        ids, mask = tok["input_ids"], tok["attention_mask"]
        if ids.shape[1] == 0:                       # every text empty and no special tokens added
            ids, mask = ids.new_zeros((len(texts), 1)), mask.new_zeros((len(texts), 1))
        empty = mask.sum(1) == 0                    # an empty prompt still gets one (EOS) token to attend to
        if bool(empty.any()):
            eos = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else self.tokenizer.pad_token_id
            ids[empty, 0], mask[empty, 0] = eos, 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        emb = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        emb = emb * mask[..., None]
        return emb.cpu(), mask.bool().cpu()
