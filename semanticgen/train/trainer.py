"""One optimisation step, written once for every stage (no Ray here).

:class:`Trainer` owns what a step needs — the wrapped model, AdamW with warm-up (+ cosine), gradient
accumulation over micro-batches (no gradient sync until the last one), clipping, EMA of the parameters,
bf16 autocast — and a :class:`MetricWindow` of what happened since the last report (kept on the
device, so there is no host sync per step). ``pipelines/train/loop.py`` feeds it batches from a Ray Data
shard and owns reports, checkpoints and resume; :meth:`Trainer.state_dict` / :meth:`Trainer.load_state_dict`
are what a checkpoint holds besides the trainer position.
"""
from __future__ import annotations

import contextlib
import time
from typing import Dict

import torch
import torch.distributed as dist

from ..config.schema import Config
from .ema import EMA
from .parallel import full_optim_state, full_state_dict, load_full_optim_state, load_full_state_dict
from .schedule import lr_factor


def ema_params(model) -> Dict[str, torch.Tensor]:
    """Trainable parameters by their plain names (no DDP ``module.`` or checkpoint-wrapper prefixes)."""
    def plain(k: str) -> str:
        k = k.replace("_checkpoint_wrapped_module.", "")
        return k[len("module."):] if k.startswith("module.") else k
    return {plain(k): p for k, p in model.named_parameters() if p.requires_grad}


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor of an FSDP2 DTensor shard (collective), or ``t`` itself."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class MetricWindow:
    """Sums since the last report, on the training device; :meth:`summary` reduces them over ranks."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.loss, self.n, self.samples, self.tokens, self.grad_norm, self.steps = 0.0, 0, 0, 0, 0.0, 0
        self.extra: Dict[str, torch.Tensor] = {}
        self.t0 = time.time()

    def add_micro(self, loss: torch.Tensor, metrics: Dict, samples: int, tokens: int) -> None:
        self.loss = self.loss + loss.detach().float()
        self.n += 1
        self.samples += samples
        self.tokens += tokens
        for k, v in metrics.items():
            self.extra[k] = self.extra.get(k, 0.0) + (v.detach().float() if torch.is_tensor(v) else float(v))

    def add_step(self, grad_norm) -> None:
        self.grad_norm = self.grad_norm + (full_tensor(grad_norm).float() if torch.is_tensor(grad_norm) else grad_norm)
        self.steps += 1

    def summary(self, world: int, lr: float) -> Dict[str, float]:
        """Mean loss over ranks (one host sync), mean grad norm, throughput, mean extra metrics; resets."""
        dt = max(time.time() - self.t0, 1e-9)
        n = max(self.n, 1)
        # on the training device: NCCL reduces device tensors only; batch sizes may differ per rank (token budget)
        sums = torch.stack([torch.as_tensor(self.loss, dtype=torch.float32, device=self.device).reshape(()) / n,
                            torch.tensor(float(self.samples), device=self.device),
                            torch.tensor(float(self.tokens), device=self.device)])
        if distributed():
            dist.all_reduce(sums)
        else:
            sums = sums * torch.tensor([1.0, world, world], device=self.device)
        loss, samples, tokens = (float(x) for x in sums.cpu())
        out = {"loss": loss / (world if distributed() else 1), "lr": lr,
               "grad_norm": float(self.grad_norm) / max(1, self.steps),
               "samples_per_s": samples / dt, "tokens_per_s": tokens / dt}
        out.update({k: float(v) / n for k, v in self.extra.items()})
        self.reset()
        return out


class Trainer:
    def __init__(self, cfg: Config, model: torch.nn.Module, device: torch.device):
        tc = self.tc = cfg.train
        self.model, self.device = model, device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=tc.lr, betas=(tc.beta1, tc.beta2), weight_decay=tc.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: lr_factor(s, tc.warmup_steps, tc.max_steps, tc.lr_schedule))
        self.ema = EMA(ema_params(model), tc.ema_decay)
        self.step, self.micro = 0, 0
        # bf16: autocast on the training device (CUDA, or CPU when asked); FSDP2 adds bf16 parameters (parallel.py)
        self.amp = (torch.autocast(device_type=device.type, dtype=torch.bfloat16)
                    if tc.precision == "bf16" else contextlib.nullcontext())
        self.window = MetricWindow(device)

    def start_epoch(self) -> None:
        """A new pass over the data: the micro-batch count restarts."""
        self.micro = 0

    def train_micro(self, batch: Dict[str, torch.Tensor]) -> bool:
        """Forward + backward of one micro-batch; an optimizer step after every ``grad_accum`` of them.
        Returns whether a step was taken."""
        tc = self.tc
        batch = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        last = (self.micro + 1) % tc.grad_accum == 0
        no_sync = getattr(self.model, "no_sync", None)
        with (no_sync() if no_sync is not None and not last else contextlib.nullcontext()):
            with self.amp:
                loss, metrics, tokens = self.model(batch)
            (loss / tc.grad_accum).backward()
        self.micro += 1
        samples = int(next(v for v in batch.values() if torch.is_tensor(v)).shape[0])
        self.window.add_micro(loss, metrics, samples, int(tokens))
        if not last:
            return False
        gn = torch.nn.utils.clip_grad_norm_(self.params, tc.grad_clip if tc.grad_clip > 0 else float("inf"))
        self.window.add_step(gn)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        self.ema.update(ema_params(self.model))
        self.step += 1
        return True

    @property
    def lr(self) -> float:
        return self.opt.param_groups[0]["lr"]

    def state_dict(self) -> Dict[str, dict]:
        """Unsharded model, optimizer and EMA state (collectives under FSDP2: call on every rank)."""
        return {"model": full_state_dict(self.model), "optimizer": full_optim_state(self.model, self.opt),
                "ema": {k: full_tensor(v).cpu() for k, v in self.ema.shadow.items()}}

    def load_state_dict(self, state: Dict[str, dict], step: int) -> None:
        load_full_state_dict(self.model, state["model"])
        self.ema.load_state_dict(state["ema"])
        load_full_optim_state(self.model, self.opt, state["optimizer"])
        self.step = step
        self.sched.last_epoch = step                 # the optimizer state already holds this step's lr
