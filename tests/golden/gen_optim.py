"""Golden fixture for tests/test_optim.c: optimizer trajectories and learning-rate
schedules computed by PyTorch (torch.optim, torch.optim.lr_scheduler).

Optimizers: a 50-element parameter vector, 5 steps with a fixed gradient per
step, for each configuration in CONFIGS. Stored per configuration NAME:
  NAME/params       [5, 50] parameters after each step
  NAME/m, NAME/v    [50] momentum buffer / exp_avg, exp_avg_sq after step 5
  NAME/masked       [5, 50] the same run under the mask discipline: the
                    gradient of a pruned weight is zeroed before each step and
                    the weight is zeroed after it (and at the start)
The mask covers the first N_MASKED entries (the rest play the role of
biases, which are never pruned). Configurations and schedule settings are
repeated in tests/test_optim.c; keep the two in step."""
import math
import os
from bisect import bisect_right

import numpy as np
import torch

import golden_io

N, N_MASKED, STEPS = 50, 40, 5

# name -> (class, kwargs); mirrored by the table in tests/test_optim.c.
CONFIGS = [
    ("sgd_plain", torch.optim.SGD, dict(lr=0.1)),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("sgd_nesterov_wd", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    ("adam", torch.optim.Adam, dict(lr=0.05)),
    ("adam_wd", torch.optim.Adam, dict(lr=0.05, weight_decay=0.1)),
    ("adamw", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
]


def run(cls, kwargs, param0, grads, mask):
    p = torch.nn.Parameter(torch.tensor(param0))
    full_mask = torch.ones(N)
    if mask is not None:
        full_mask[:N_MASKED] = torch.tensor(mask)
        with torch.no_grad():
            p.mul_(full_mask)
    opt = cls([p], foreach=False, **kwargs)
    out = []
    for g in grads:
        p.grad = torch.tensor(g) * full_mask
        opt.step()
        with torch.no_grad():
            p.mul_(full_mask)
        out.append(p.detach().numpy().copy())
    st = opt.state[p]
    if st.get("momentum_buffer") is not None:
        m, v = st["momentum_buffer"], torch.zeros(N)
    elif "exp_avg" in st:
        m, v = st["exp_avg"], st["exp_avg_sq"]
    else:
        m = v = torch.zeros(N)
    return np.stack(out), m.numpy().copy(), v.numpy().copy()


def schedule_values(lr_lambda=None, make=None, steps=40, base=0.1):
    """LR the optimizer uses at 0-based iterations 0..steps-1, stepping the
    scheduler once per iteration as the trainer does."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    sched = make(opt) if make else torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


def main():
    rng = np.random.default_rng(20240601)
    param0 = rng.standard_normal(N).astype(np.float32)
    # Gradients of mixed scale so small-|g| entries exercise Adam's eps.
    grads = (rng.standard_normal((STEPS, N)) * 0.5).astype(np.float32)
    grads[:, 3] *= 1e-4
    mask = (rng.random(N_MASKED) > 0.4).astype(np.float32)
    arrays = [("param0", param0), ("grads", grads), ("mask", mask)]
    for name, cls, kwargs in CONFIGS:
        params, m, v = run(cls, kwargs, param0, grads, None)
        masked, _, _ = run(cls, kwargs, param0, grads, mask)
        arrays += [(name + "/params", params), (name + "/m", m), (name + "/v", v), (name + "/masked", masked)]

    # Schedules: base lr 0.1, 40 iterations; mirrored in tests/test_optim.c.
    ms, gamma, total, warm = [10, 20, 30], 0.1, 40, 5
    lr_sched = torch.optim.lr_scheduler
    warm_f = lambda k: min(1.0, (k + 1) / warm)
    arrays += [
        ("sched/multistep", schedule_values(make=lambda o: lr_sched.MultiStepLR(o, ms, gamma))),
        ("sched/cosine", schedule_values(make=lambda o: lr_sched.CosineAnnealingLR(o, T_max=total))),
        ("sched/warmup_constant", schedule_values(lr_lambda=warm_f)),
        ("sched/warmup_multistep", schedule_values(lr_lambda=lambda k: warm_f(k) * gamma ** bisect_right(ms, k))),
        ("sched/warmup_cosine",
         schedule_values(lr_lambda=lambda k: warm_f(k) * 0.5 * (1 + math.cos(math.pi * k / total)))),
    ]
    golden_io.write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim.bin"), arrays)


if __name__ == "__main__":
    main()
