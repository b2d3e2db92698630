"""Captioner: one dense caption per clip from frames sampled across the whole clip (Qwen2.5-VL).

Backend ``transformers`` (``Qwen2_5_VLForConditionalGeneration.generate``, works everywhere). The
prompt building and answer cleaning live here so a vLLM backend (``ray.data.llm`` on GPU clusters)
can reuse them: :func:`build_messages` and :func:`clean_caption`.
"""
from __future__ import annotations

import re
from typing import List, Sequence

import numpy as np
import torch

from .weights import resolve_local

DEFAULT_PROMPT = ("Describe this video in detail as one paragraph: the setting, the subjects and what they do, "
                  "every change of shot in order, the camera motion, lighting and style.")

# Boilerplate openings stripped from answers (case-insensitive), so captions start with content.
BOILERPLATE = [
    r"^(sure[,!.]?\s*)?(here is|here's) (a|the) (detailed )?(description|caption)[^:]*:\s*",
    r"^(the|this) (video|clip|footage) (shows|depicts|features|captures|begins with|opens with)\s*",
    r"^in (the|this) (video|clip|footage),?\s*",
    r"^(the|this) (video|clip) is about\s*",
]


def clean_caption(text: str) -> str:
    out = text.strip().strip('"').strip()
    for pat in BOILERPLATE:
        out = re.sub(pat, "", out, flags=re.IGNORECASE).strip()
    out = re.sub(r"\s+", " ", out)
    return out[:1].upper() + out[1:] if out else out


def build_messages(prompt: str) -> list:
    return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]


class Captioner:
    def __init__(self, model, processor, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 256,
                 min_new_tokens: int = 1, device: str = "cpu"):
        self.model, self.processor = model.to(device).eval(), processor
        self.prompt, self.max_new_tokens, self.min_new_tokens, self.device = prompt, max_new_tokens, min_new_tokens, device
        self.processor.tokenizer.padding_side = "left"          # batched generation

    def set_max_pixels(self, max_pixels: int, min_pixels: int = 4 * 28 * 28) -> None:
        """Per-frame pixel budget of the captioner's video processor."""
        self.processor.video_processor.size = {"shortest_edge": int(min(min_pixels, max_pixels)),
                                               "longest_edge": int(max_pixels)}

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32,
                        **kwargs) -> "Captioner":
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        path = resolve_local(name_or_path)
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, dtype=dtype)
        processor = AutoProcessor.from_pretrained(path)
        if hasattr(processor, "video_processor"):
            processor.video_processor.cap_pixels_per_frame = True   # qwen-vl-utils' per-frame pixel cap
        return cls(model, processor, device=device, **kwargs)

    @torch.no_grad()
    def caption(self, clips: Sequence[np.ndarray]) -> List[str]:
        """One caption per clip; each clip is uint8 (T, H, W, 3) frames sampled across the clip."""
        text = self.processor.apply_chat_template(build_messages(self.prompt), tokenize=False,
                                                  add_generation_prompt=True)
        videos = [torch.from_numpy(np.ascontiguousarray(c if len(c) % 2 == 0 else np.concatenate([c, c[-1:]])))
                  .permute(0, 3, 1, 2) for c in clips]
        inputs = self.processor(text=[text] * len(clips), videos=videos, padding=True, return_tensors="pt",
                                videos_kwargs={"do_sample_frames": False})
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens,
                                  do_sample=False)
        new = out[:, inputs["input_ids"].shape[1]:]
        return [clean_caption(t) for t in self.processor.batch_decode(new, skip_special_tokens=True)]
