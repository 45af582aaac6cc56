"""Golden fixture for tests/test_conv2d.c: F.conv2d forward and its autograd
backward for the shapes in CASES (the test has the same table, in the same order).

Inputs and the upstream gradient dy are drawn as float32 with a fixed seed and
stored; the references are computed in float64 from exactly those float32
values, so the fixture holds the true answer and the C side's float32 rounding
is what the test measures."""
import os

import torch
import torch.nn.functional as F

import golden_io

# name, B, C, H, W, K, R, S, stride, pad
CASES = [
    ("3x3_s1_p1", 2, 3, 6, 6, 4, 3, 3, 1, 1),
    ("3x3_s2_p1", 2, 3, 8, 8, 4, 3, 3, 2, 1),
    ("3x3_s2_p0_odd", 2, 2, 7, 7, 3, 3, 3, 2, 0),
    ("1x1_s2_p0", 2, 4, 6, 6, 3, 1, 1, 2, 0),
    ("1x1_s1_p0", 2, 4, 5, 5, 3, 1, 1, 1, 0),
    ("1x1_s1_p1", 2, 2, 4, 4, 3, 1, 1, 1, 1),
    ("5x5_s1_p2", 2, 2, 7, 7, 3, 5, 5, 1, 2),
    ("nonsquare", 2, 3, 5, 9, 4, 3, 2, 1, 1),
    ("c1", 2, 1, 6, 6, 3, 3, 3, 1, 1),
    ("k1", 2, 3, 6, 6, 1, 3, 3, 1, 1),
]

torch.manual_seed(20240612)
D = torch.float64
out = []


def rand(*shape, scale=1.0):
    """float32 draws, held in float64 for the reference computation."""
    return (torch.randn(*shape, dtype=torch.float32) * scale).to(D)


for name, B, C, H, W, K, R, S, stride, pad in CASES:
    x, w, b = rand(B, C, H, W), rand(K, C, R, S, scale=0.3), rand(K)
    x.requires_grad_(), w.requires_grad_(), b.requires_grad_()
    y = F.conv2d(x, w, b, stride=stride, padding=pad)
    dy = rand(*y.shape)
    dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
    for key, a in (("x", x), ("w", w), ("b", b), ("dy", dy), ("y", y), ("dx", dx), ("dw", dw), ("db", db)):
        out.append((name + "." + key, a.detach().numpy()))

golden_io.write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv2d.bin"), out)
