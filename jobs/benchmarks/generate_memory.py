"""Peak memory of long-video generation for N× the Swin window: latent-DiT step (Swin vs full) and
chunked VAE decoding streamed to mp4, each measured in a fresh subprocess (peak RSS).

    python -m jobs.benchmark generate_memory [--ns 1,2,4,8] [--hw 32] [--window 4]

Swin attention memory grows linearly with length (flat per latent frame); full attention grows with
its square. The chunked decoder's peak is flat in N. Last line: ``generate_memory: swin_per_frame_ratio=...
full_per_frame_ratio=... decode_ratio=...`` (largest N vs smallest).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r'''
import json, resource, sys, tempfile, torch
mode, frames, hw, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode in ("swin", "full"):
    from semanticgen.config.models import DiTConfig
    from semanticgen.models import LatentDiT
    m = LatentDiT(DiTConfig(size="tiny", attention=mode, swin_window=window), 16, 8, 32, attn_backend="sdpa").eval()
    x = torch.randn(1, 16, frames, hw, hw); z = torch.randn(1, max(1, frames // 4), hw // 8, hw // 8, 8)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        m(x, torch.rand(1), torch.randn(1, 8, 32), None, z)
else:
    from diffusers import AutoencoderKLWan
    from semanticgen.encoders.vae import VideoVAE
    from semanticgen.video.mp4 import VideoWriter
    torch.manual_seed(0)
    vae = VideoVAE(AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1))
    lat = torch.randn(16, frames, hw // 2, hw // 2)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as d, VideoWriter(d + "/v.mp4", 16) as w:
        for s in range(0, frames, 4):
            ctx = 1 if s else 0
            out = vae.decode(lat[:, s - ctx: s + 4])
            w.write(out[1:] if ctx else out)
print(json.dumps({"peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}))
'''


def measure(mode: str, frames: int, hw: int, window: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(frames), str(hw), str(window)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ns", default="1,2,4,8")
    p.add_argument("--hw", type=int, default=32, help="latent height = width")
    p.add_argument("--window", type=int, default=4, help="T_w latent frames")
    a = p.parse_args(argv)
    ns = [int(n) for n in a.ns.split(",")]
    rows = []
    for n in ns:
        frames = n * a.window
        rows.append((n, frames, measure("swin", frames, a.hw, a.window), measure("full", frames, a.hw, a.window),
                     measure("decode", frames, a.hw, a.window)))
    print(f"latent DiT forward (tiny, {a.hw}x{a.hw} latents, T_w={a.window}) and chunked VAE decode; "
          "peak RSS above the loaded model, MB")
    print(f"{'N':>3s} {'frames':>6s} {'swin MB':>9s} {'swin/frame':>10s} {'full MB':>9s} {'full/frame':>10s} "
          f"{'decode MB':>9s}")
    for n, f, s, fu, d in rows:
        print(f"{n:3d} {f:6d} {s:9.1f} {s / f:10.2f} {fu:9.1f} {fu / f:10.2f} {d:9.1f}")
    (n0, f0, s0, fu0, d0), (n1, f1, s1, fu1, d1) = rows[0], rows[-1]
    print(f"generate_memory: swin_per_frame_ratio={(s1 / f1) / max(s0 / f0, 1e-9):.2f} "
          f"full_per_frame_ratio={(fu1 / f1) / max(fu0 / f0, 1e-9):.2f} decode_ratio={d1 / max(d0, 1e-9):.2f}")
    return 0
