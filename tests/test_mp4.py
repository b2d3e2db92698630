"""mp4 I/O: round trip (shape, fps, PSNR floor for the lossy codec), odd-size rule, bad inputs."""
import numpy as np
import pytest

from semanticgen.video.mp4 import VideoReadError, pad_to_even, read_video, write_video


def smooth_frames(t=12, h=48, w=64, seed=0):
    """Natural-ish content (smooth gradients + moving blob): what H.264 compresses well."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, size=3).astype(np.float32)
    frames = []
    for i in range(t):
        cx, cy = 10 + 2 * i, h / 2
        blob = 60 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 50.0)
        img = base[None, None, :] + 0.8 * xx[..., None] - 0.5 * yy[..., None] + blob[..., None]
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(frames)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


@pytest.mark.parametrize("fps", [16.0, 24000 / 1001])
def test_round_trip_shape_fps_psnr(tmp_path, fps):
    frames = smooth_frames()
    path = write_video(tmp_path / "sub" / "a.mp4", frames, fps=fps)
    got, got_fps = read_video(path)
    assert got.shape == frames.shape and got.dtype == np.uint8
    assert got_fps == pytest.approx(fps, rel=1e-4)
    assert psnr(got, frames) > 35.0
    # frame order survives: each decoded frame is closest to its own source frame
    d = [[np.abs(got[i].astype(int) - frames[j]).mean() for j in range(len(frames))] for i in range(len(frames))]
    assert list(np.argmin(d, axis=1)) == list(range(len(frames)))


def test_odd_size_is_padded_by_edge_replication(tmp_path):
    frames = smooth_frames(t=5, h=33, w=47)
    padded = pad_to_even(frames)
    assert padded.shape == (5, 34, 48, 3)
    np.testing.assert_array_equal(padded[:, :33, :47], frames)
    np.testing.assert_array_equal(padded[:, 33, :47], frames[:, 32])        # last row replicated
    np.testing.assert_array_equal(padded[:, :33, 47], frames[:, :, 46])     # last column replicated
    got, _ = read_video(write_video(tmp_path / "odd.mp4", frames, fps=8))
    assert got.shape == (5, 34, 48, 3)
    assert psnr(got[:, :33, :47], frames) > 33.0


def test_max_frames(tmp_path):
    path = write_video(tmp_path / "a.mp4", smooth_frames(t=10), fps=10)
    got, _ = read_video(path, max_frames=4)
    assert got.shape[0] == 4


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=8)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "x.mp4", np.zeros((8, 8, 3), np.uint8), fps=8)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.uint8), fps=0)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"not a video" * 50)
    with pytest.raises(VideoReadError, match="garbage.mp4"):
        read_video(bad)
