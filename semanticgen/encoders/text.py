"""Text encoder (umT5/T5 encoder by default; any ``AutoModel`` encoder): captions → embeddings + mask."""
from __future__ import annotations

from typing import List, Tuple

import torch

from .weights import resolve_local


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
        from transformers import AutoConfig, AutoTokenizer

        path = resolve_local(name_or_path)
        cfg = AutoConfig.from_pretrained(path)
        model = _encoder_class(cfg.model_type).from_pretrained(path, dtype=dtype)
        tok = AutoTokenizer.from_pretrained(resolve_local(tokenizer) if tokenizer else path)
        return cls(model, tok, max_length, device, dtype)

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
