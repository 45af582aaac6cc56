"""Golden fixture for tests/test_layers_golden.c: every layer but conv2d (which
has its own fixture), forward outputs and backward gradients from PyTorch.

Inputs are drawn as float32 with a fixed seed and stored; the references are
computed in float64 from exactly those float32 values, so the fixture holds the
true answer and the C side's float32 rounding is what the test measures."""
import os

import torch
import torch.nn.functional as F

import golden_io

torch.manual_seed(20240611)
D = torch.float64
out = []


def f32(t):
    """Rounds to float32 (what the fixture stores), in float64 for the reference computation."""
    return t.to(torch.float32).to(D)


def rand(*shape, scale=1.0):
    return f32(torch.randn(*shape, dtype=torch.float32) * scale)


def put(prefix, **arrays):
    for name, a in arrays.items():
        out.append((prefix + "." + name, a.detach().numpy()))


def grads(y, dy, *inputs):
    return torch.autograd.grad(y, inputs, dy)


# linear: B=4, in=7, out=5
x, w, b = rand(4, 7), rand(5, 7, scale=0.4), rand(5)
dy = rand(4, 5)
x.requires_grad_(), w.requires_grad_(), b.requires_grad_()
y = F.linear(x, w, b)
dx, dw, db = grads(y, dy, x, w, b)
put("linear", x=x, w=w, b=b, dy=dy, y=y, dx=dx, dw=dw, db=db)

# batch norm, train mode: B=4, C=3, 5x5, one step of running statistics.
# The input has a large per-channel offset to exercise the centering.
x = f32(rand(4, 3, 5, 5, scale=2.0) + torch.tensor([3.0, -1.0, 10.0], dtype=D).view(1, 3, 1, 1))
gamma, beta = f32(rand(3) * 0.5 + 1.0), rand(3)
run_mean0, run_var0 = rand(3), f32(rand(3).abs() + 0.5)
dy = rand(4, 3, 5, 5)
x.requires_grad_(), gamma.requires_grad_(), beta.requires_grad_()
run_mean, run_var = run_mean0.clone(), run_var0.clone()
y = F.batch_norm(x, run_mean, run_var, gamma, beta, training=True, momentum=0.1, eps=1e-5)
dx, dgamma, dbeta = grads(y, dy, x, gamma, beta)
put("bn_train", x=x, gamma=gamma, beta=beta, run_mean0=run_mean0, run_var0=run_var0, dy=dy, y=y, dx=dx,
    dgamma=dgamma, dbeta=dbeta, run_mean=run_mean, run_var=run_var)

# batch norm, eval mode: the running statistics normalize.
x = rand(4, 3, 5, 5, scale=2.0)
gamma, beta = f32(rand(3) * 0.5 + 1.0), rand(3)
run_mean, run_var = rand(3), f32(rand(3).abs() + 0.5)
y = F.batch_norm(x, run_mean, run_var, gamma, beta, training=False, eps=1e-5)
put("bn_eval", x=x, gamma=gamma, beta=beta, run_mean=run_mean, run_var=run_var, y=y)


def maxpool(name, x, k, stride):
    dy = rand(*F.max_pool2d(x, k, stride).shape)
    x.requires_grad_()
    y, idx = F.max_pool2d(x, k, stride, return_indices=True)
    (dx,) = grads(y, dy, x)
    put(name, x=x, dy=dy, y=y, argmax=idx.to(D), dx=dx)


maxpool("max6", rand(2, 3, 6, 6), 2, 2)
maxpool("max7", rand(2, 3, 7, 7), 2, 2)  # floor: the last row and column are never read
# Few distinct values make ties common (the first maximum in row-major order
# wins), and 3x3 windows at stride 2 overlap, so dx sums several routes.
maxpool("maxtie", torch.randint(0, 3, (2, 3, 7, 7)).to(D), 3, 2)


def avgpool(name, x, k):
    dy = rand(*F.avg_pool2d(x, k).shape)
    x.requires_grad_()
    y = F.avg_pool2d(x, k)
    (dx,) = grads(y, dy, x)
    put(name, x=x, dy=dy, y=y, dx=dx)


avgpool("avg2", rand(2, 3, 8, 8), 2)
avgpool("avg7", rand(2, 3, 7, 7), 2)
avgpool("avgglobal", rand(2, 3, 8, 8), 8)

# relu and add: small, but every layer gets a PyTorch reference.
x = rand(3, 17)
dy = rand(3, 17)
x.requires_grad_()
y = F.relu(x)
(dx,) = grads(y, dy, x)
put("relu", x=x, dy=dy, y=y, dx=dx)

a, b2 = rand(3, 17), rand(3, 17)
dy = rand(3, 17)
a.requires_grad_(), b2.requires_grad_()
y = a + b2
da, db = grads(y, dy, a, b2)
put("add", a=a, b=b2, dy=dy, y=y, da=da, db=db)

# softmax cross-entropy: B=6, 10 classes. Row 0 has logits near 1000, which
# overflow exp() without the max subtraction; row 1 ties its top two logits
# (the first one is the prediction).
logits = rand(6, 10, scale=3.0)
logits[0] += 1000.0
logits[1, 4] = logits[1, 7] = logits[1].max() + 1.0
logits = f32(logits)
labels = torch.tensor([3, 4, 7, 0, 9, 5])
logits.requires_grad_()
loss = F.cross_entropy(logits, labels)
(dlogits,) = torch.autograd.grad(loss, logits)
correct = (logits.argmax(dim=1) == labels).sum()
put("xent", logits=logits, labels=labels.to(D), loss=loss.reshape(1), probs=F.softmax(logits, dim=1),
    dlogits=dlogits, correct=correct.reshape(1).to(D))

golden_io.write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.bin"), out)
