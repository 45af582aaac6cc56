"""Golden fixture for tests/test_transform.c: image adaptation (resize and
channel conversion) of small uint8 images, as datasets/transform.c defines it.

Per axis, a smaller size is reached by an exact box filter and a larger one by
bilinear interpolation with align_corners=False. For integer ratios the box
filter is F.interpolate(mode="area") (adaptive average pooling) and this script
checks so; for non-integer ratios adaptive pooling averages whole pixels
instead of weighting the partly covered ones, so the reference is the box
filter's weight matrix in float64. Growing axes use F.interpolate(mode="bilinear",
align_corners=False). A case that shrinks one axis and grows the other is the
composition of the two one-axis resizes (bilinear with one axis unchanged is
linear interpolation along the other).

RGB -> grey is BT.601 luma in PIL's 16-bit fixed point (19595, 38470, 7471)/65536,
kept unrounded before the resize; "pil_rgb"/"pil_l" check it against PIL's
convert("L") on images whose size does not change.

Stored per case: NAME.shape = [C, h, w, C2, H, W], NAME.in (uint8 values as
float, [C, h, w]) and NAME.out: the float64 result before rounding, as float32
[C2, H, W]. The C side rounds half up, so the test compares against
floor(out + 0.5), exactly except within 1e-3 of a tie."""
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import golden_io

# name, C, h, w, C2, H, W
CASES = [
    ("down_int", 1, 8, 8, 1, 4, 4),
    ("down_int_rect", 1, 12, 6, 1, 4, 3),
    ("down_frac", 1, 7, 7, 1, 5, 5),
    ("down_32_28", 1, 32, 32, 1, 28, 28),
    ("up", 1, 5, 5, 1, 8, 8),
    ("up_28_32", 1, 28, 28, 1, 32, 32),
    ("up_rect", 1, 4, 6, 1, 9, 7),
    ("mixed", 1, 8, 5, 1, 4, 9),
    ("mixed_frac", 1, 7, 4, 1, 5, 6),
    ("rgb", 3, 6, 5, 3, 4, 7),
    ("rgb_to_grey", 3, 6, 6, 1, 3, 3),
    ("grey_to_rgb", 1, 4, 4, 3, 6, 6),
]

rng = np.random.default_rng(20240613)
D = torch.float64


def box_matrix(n_in, n_out):
    """Output o covers input [o*n_in/n_out, (o+1)*n_in/n_out); input pixel i
    weighs by its overlap with that interval. Exact in units of 1/n_out."""
    a = np.zeros((n_out, n_in))
    for o in range(n_out):
        lo, hi = o * n_in, (o + 1) * n_in
        for i in range(n_in):
            overlap = min(hi, (i + 1) * n_out) - max(lo, i * n_out)
            if overlap > 0:
                a[o, i] = overlap / n_in
    return a


def resize_axis(x, axis, n_out):
    """x: float64 tensor [C, h, w]; resizes one axis (1 = h, 2 = w)."""
    n_in = x.shape[axis]
    if n_out == n_in:
        return x
    if n_out < n_in:
        a = torch.from_numpy(box_matrix(n_in, n_out))
        if n_in % n_out == 0:
            size = (n_out, x.shape[2]) if axis == 1 else (x.shape[1], n_out)
            pooled = F.interpolate(x[None], size=size, mode="area")[0]
            ref = torch.einsum("oi,cij->coj", a, x) if axis == 1 else torch.einsum("oj,cij->cio", a, x)
            assert torch.allclose(pooled, ref, atol=1e-9), "box filter != area for an integer ratio"
            return pooled
        return torch.einsum("oi,cij->coj", a, x) if axis == 1 else torch.einsum("oj,cij->cio", a, x)
    size = (n_out, x.shape[2]) if axis == 1 else (x.shape[1], n_out)
    return F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]


def luma(x):
    return (19595 * x[0:1] + 38470 * x[1:2] + 7471 * x[2:3]) / 65536.0


out = []
for name, C, h, w, C2, H, W in CASES:
    img = rng.integers(0, 256, size=(C, h, w)).astype(np.float64)
    if name.startswith("down"):  # include the extremes: they show clamping or overflow errors
        img.flat[0], img.flat[1] = 0, 255
    x = torch.from_numpy(img)
    if C == 3 and C2 == 1:
        x = luma(x)
    y = resize_axis(resize_axis(x, 1, H), 2, W)
    if C == 1 and C2 == 3:
        y = y.repeat(3, 1, 1)
    out += [(name + ".shape", [C, h, w, C2, H, W]), (name + ".in", img), (name + ".out", y.numpy())]

# PIL's convert("L") on a grid that covers the extremes and many rounding cases.
rgb = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
rgb[0, :4] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]
# Pixels where PIL's fixed point and exact 0.299/0.587/0.114 round differently.
rgb[1, :4] = [[0, 0, 250], [0, 4, 168], [169, 79, 14], [255, 243, 251]]
grey = np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
mine = np.floor(luma(torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float64))).numpy()[0] + 0.5)
assert (mine == grey).all(), "fixed-point luma differs from PIL"
out += [("pil_rgb", rgb.transpose(2, 0, 1)), ("pil_l", grey)]

golden_io.write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "transform.bin"), out)
