"""Golden fixture for tests/test_models_golden.c: whole registry models against
PyTorch (torch 1.13), in train mode unless said otherwise.

  lenet_300_100 (1x28x28, batch 8) and resnet20 (3x8x8, batch 4): three steps
      of torch.optim.SGD(lr=0.05, momentum=0.9, weight_decay=5e-4) with
      F.cross_entropy, one batch per step;
  conv2 (width 0.125), vgg11 and resnet18 (width 0.0625), 3x32x32, batch 4:
      one forward and backward.

Initial parameters and inputs are float32 values; the references are computed
in float64 from exactly those values, so the fixture holds the true answer and
the test measures the C engine's float32 rounding, not PyTorch's.

Conditioning. A ReLU whose input is within rounding of 0, or a max-pool window
whose two largest values are, sends a gradient one way in float64 and maybe
the other way in float32; a legitimate change of summation order in the
engine would then move some parameter far beyond 1e-4. So every ReLU input
and every max-pool window of the float64 run must stay at least MARGIN
(relative to the tensor's RMS, some 20x the float32 rounding seen at depth)
away from its kink, and `salt`, which picks the inputs and labels, is the
first value for which they do. That needs few of them: three steps of
resnet20 on CIFAR's 3x32x32 have 3.6 million ReLU inputs, of which several
always fall within rounding of 0, so resnet20 trains on 3x8x8 inputs (the
same parameters; 140 thousand ReLU inputs). Convolutions at 32x32 are covered
by the one-step models.

To keep the fixture small, initial parameters and inputs are not stored:
both sides compute them with the formula in `uniform` (a splitmix64 hash of a
key string and the element index, exact in float32). Stored per model M:
  M/names                  every parameter name, in named_parameters() order,
                           joined by newlines, one character code per value
  M/shape/NAME             PyTorch shape of parameter NAME
  M/init/NAME              [offset, scale]: NAME = offset + scale * uniform("M/NAME")
  M/salt                   the inputs are uniform("M/x/SALT/STEP") (STEP = 0, 1, ... or eval)
  M/labels                 [steps, batch]
  M/loss                   [steps] loss of each step, before its update
  M/logits                 [batch, 10] logits of the first step
  M/final/NAME             (stepped models) parameters after the last step
  M/run_mean/BN, M/run_var/BN  (resnet20) batch-norm running statistics after it
  M/eval_logits            (resnet20) eval-mode logits of the "eval" inputs after it
  M/grad/NAME              (one-step models) gradient of the first step

Widths are scaled as src/models.c scales them (round(channels * width)).
VGG follows OpenLTH's models/cifar_vgg.py: `layers` is one nn.Sequential of
ConvModules (conv, bn) and max-pools, so a module's name is its index there."""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import golden_io

CLASSES = 10
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4
MARGIN = 2e-5
MAX_SALT = 200
M64 = (1 << 64) - 1
D = torch.float64


# ----------------------------------------------------------------- init formula
def fnv1a(text):
    h = 0xCBF29CE484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001B3) & M64
    return h


def uniform(key, n):
    """n float32 values in [-1, 1): element j is splitmix64(fnv1a(key) ^ j) >> 40,
    scaled by 2^-23, minus 1 (every step exact in float32)."""
    z = np.uint64(fnv1a(key)) ^ np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-23) - np.float32(1.0)


def initial_values(module, pname, shape):
    """[offset, scale] of one parameter's formula: Kaiming-uniform weights,
    batch-norm scales around 1, small biases and shifts that still matter."""
    if isinstance(module, nn.BatchNorm2d) and pname == "weight":
        return np.float32(1.0), np.float32(0.2)
    if pname == "bias":
        return np.float32(0.0), np.float32(0.1)
    return np.float32(0.0), np.float32(math.sqrt(6.0 / np.prod(shape[1:])))


def init_params(prefix, model, out):
    """Sets the initial parameters and records them in out."""
    modules = dict(model.named_modules())
    params = list(model.named_parameters())
    out.append((prefix + "/names", [ord(c) for c in "\n".join(name for name, _ in params)]))
    for name, p in params:
        mod_name, pname = name.rsplit(".", 1)
        offset, scale = initial_values(modules[mod_name], pname, tuple(p.shape))
        values = offset + scale * uniform(prefix + "/" + name, p.numel())
        with torch.no_grad():
            p.copy_(torch.from_numpy(values.reshape(tuple(p.shape))))
        out.append((prefix + "/shape/" + name, list(p.shape)))
        out.append((prefix + "/init/" + name, [offset, scale]))


def inputs(prefix, salt, tag, batch, shape):
    x = uniform("%s/x/%d/%s" % (prefix, salt, tag), batch * int(np.prod(shape)))
    return torch.from_numpy(x.reshape(batch, *shape)).to(D)


def labels(prefix, salt, steps, batch):
    g = torch.Generator().manual_seed((fnv1a(prefix) + salt) & 0xFFFFFFFF)
    return torch.randint(0, CLASSES, (steps, batch), generator=g)


def scaled(channels, width):
    return max(1, int(math.floor(channels * width + 0.5)))


# -------------------------------------------------------------- kink margins
class Margins:
    """Inside a with block, records the smallest distance of any ReLU input to 0
    and of any 2x2 max-pool window's runner-up to its maximum, relative to
    the RMS of the tensor. Windows that are all exact zeros (ReLU-gated) tie
    exactly in float32 too, so they are skipped."""

    def __enter__(self):
        self.worst, self.relu, self.pool = math.inf, F.relu, F.max_pool2d

        def relu(x, inplace=False):
            self.note(x.abs().min(), x)
            return self.relu(x, inplace=inplace)

        def pool(x, kernel_size, stride=None, *args, **kwargs):
            assert kernel_size in (2, (2, 2)) and stride in (None, 2, (2, 2)), "only 2x2/2 pools are checked"
            w = x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4)
            top = w.topk(2, dim=-1).values
            gaps = (top[..., 0] - top[..., 1])[top[..., 0] > 0]
            if gaps.numel():
                self.note(gaps.min(), x)
            return self.pool(x, kernel_size, stride, *args, **kwargs)

        F.relu, F.max_pool2d = relu, pool
        return self

    def note(self, distance, x):
        self.worst = min(self.worst, (distance / x.pow(2).mean().sqrt()).item())

    def __exit__(self, *exc):
        F.relu, F.max_pool2d = self.relu, self.pool


def conditioned(prefix, run):
    """The first salt whose float64 run keeps MARGIN from every kink, and what run returned."""
    for salt in range(MAX_SALT):
        with Margins() as margins:
            result = run(salt)
        if margins.worst >= MARGIN:
            print("%s: salt %d, kink margin %.3g" % (prefix, salt, margins.worst))
            return salt, result
    raise SystemExit("%s: no salt below %d keeps a kink margin of %g" % (prefix, MAX_SALT, MARGIN))


# ----------------------------------------------------------------------- models
# LeNet300100, ConvNet and ResNetCifar are torch_ref.py's (../shared/bench),
# with widths and strides as parameters.
class LeNet300100(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, CLASSES)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ConvNet(nn.Module):
    def __init__(self, plan, fcs, in_ch=3, in_hw=32):
        super().__init__()
        layers, c, hw = [], in_ch, in_hw
        for p in plan:
            if p == "M":
                layers.append(nn.MaxPool2d(2))
                hw //= 2
            else:
                layers += [nn.Conv2d(c, p, 3, padding=1), nn.ReLU(inplace=True)]
                c = p
        self.features = nn.Sequential(*layers)
        fl, d = [], c * hw * hw
        for f in fcs:
            fl += [nn.Linear(d, f), nn.ReLU(inplace=True)]
            d = f
        fl.append(nn.Linear(d, CLASSES))
        self.classifier = nn.Sequential(*fl)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class ResBlock(nn.Module):
    def __init__(self, f_in, f_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(f_in, f_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out)
        self.conv2 = nn.Conv2d(f_out, f_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out)
        if stride != 1 or f_in != f_out:
            self.shortcut = nn.Sequential(nn.Conv2d(f_in, f_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(f_out))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNetCifar(nn.Module):
    def __init__(self, depth=20, width=16):
        super().__init__()
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, cur = [], width
        for stage in range(3):
            for b in range(n):
                blocks.append(ResBlock(cur, width << stage, 2 if stage > 0 and b == 0 else 1))
                cur = width << stage
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cur, CLASSES)

    def forward(self, x):
        out = F.relu(self.bn(self.conv(x)))
        out = self.blocks(out)
        out = F.avg_pool2d(out, out.size()[3])
        return self.fc(out.view(out.size(0), -1))


class ResNet18(nn.Module):
    """torchvision's resnet18 with a 3x3 stride-1 stem and no stem max-pool (the
    registry's small-image variant); shortcuts are named as in the CIFAR
    ResNets (shortcut.0/1), where torchvision says downsample.0/1."""

    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cur = width
        for stage in range(4):
            blocks = []
            for b in range(2):
                blocks.append(ResBlock(cur, width << stage, 2 if stage > 0 and b == 0 else 1))
                cur = width << stage
            setattr(self, "layer%d" % (stage + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(cur, CLASSES)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for stage in range(4):
            out = getattr(self, "layer%d" % (stage + 1))(out)
        out = F.adaptive_avg_pool2d(out, 1)
        return self.fc(out.view(out.size(0), -1))


class VGGCifar(nn.Module):
    """OpenLTH models/cifar_vgg.py."""

    class ConvModule(nn.Module):
        def __init__(self, f_in, f_out):
            super().__init__()
            self.conv = nn.Conv2d(f_in, f_out, 3, padding=1)
            self.bn = nn.BatchNorm2d(f_out)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    def __init__(self, plan):
        super().__init__()
        layers, c = [], 3
        for p in plan:
            if p == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(VGGCifar.ConvModule(c, p))
                c = p
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, CLASSES)

    def forward(self, x):
        x = self.layers(x)
        x = nn.AvgPool2d(2)(x)
        return self.fc(x.view(x.size(0), -1))


VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512]


# ------------------------------------------------------------------------- runs
def fresh(prefix, make, out=None):
    """The model with the fixture's initial parameters (recorded in out), in float64."""
    model = make()
    init_params(prefix, model, [] if out is None else out)
    return model.to(D).train()


def train_steps(prefix, make, shape, batch, steps, out):
    """SGD steps; stores losses, the first logits and the parameters after.
    Returns the model and the salt."""
    def run(salt):
        model = fresh(prefix, make)
        y = labels(prefix, salt, steps, batch)
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        losses, first = [], None
        for step in range(steps):
            opt.zero_grad()
            logits = model(inputs(prefix, salt, step, batch, shape))
            loss = F.cross_entropy(logits, y[step])
            loss.backward()
            opt.step()
            losses.append(loss.item())
            first = logits.detach() if first is None else first
        return model, y, losses, first

    salt, (model, y, losses, first) = conditioned(prefix, run)
    fresh(prefix, make, out)  # records the initial parameters
    out += [(prefix + "/salt", [salt]), (prefix + "/labels", y.numpy()), (prefix + "/loss", losses),
            (prefix + "/logits", first.numpy())]
    for name, p in model.named_parameters():
        out.append((prefix + "/final/" + name, p.detach().numpy()))
    return model, salt


def gradients(prefix, make, shape, batch, out):
    """One forward and backward; stores loss, logits and gradients."""
    def run(salt):
        model = fresh(prefix, make)
        y = labels(prefix, salt, 1, batch)
        logits = model(inputs(prefix, salt, 0, batch, shape))
        loss = F.cross_entropy(logits, y[0])
        loss.backward()
        return model, y, loss.item(), logits.detach()

    salt, (model, y, loss, logits) = conditioned(prefix, run)
    fresh(prefix, make, out)  # records the initial parameters
    out += [(prefix + "/salt", [salt]), (prefix + "/labels", y.numpy()), (prefix + "/loss", [loss]),
            (prefix + "/logits", logits.numpy())]
    for name, p in model.named_parameters():
        out.append((prefix + "/grad/" + name, p.grad.numpy()))


def main():
    torch.set_num_threads(1)
    out = []
    train_steps("lenet_300_100", LeNet300100, (1, 28, 28), 8, 3, out)

    # 3x8x8, not CIFAR's 3x32x32: see Conditioning.
    resnet, salt = train_steps("resnet20", ResNetCifar, (3, 8, 8), 4, 3, out)
    for name, m in resnet.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            out.append(("resnet20/run_mean/" + name, m.running_mean.numpy()))
            out.append(("resnet20/run_var/" + name, m.running_var.numpy()))
    resnet.eval()
    with torch.no_grad():
        out.append(("resnet20/eval_logits", resnet(inputs("resnet20", salt, "eval", 4, (3, 8, 8))).numpy()))

    # Widths mirror tests/test_models_golden.c.
    w = 0.125
    gradients("conv2", lambda: ConvNet([scaled(64, w), scaled(64, w), "M"], (scaled(256, w), scaled(256, w))),
              (3, 32, 32), 4, out)
    w = 0.0625
    gradients("vgg11", lambda: VGGCifar([p if p == "M" else scaled(p, w) for p in VGG11]), (3, 32, 32), 4, out)
    gradients("resnet18", lambda: ResNet18(scaled(64, w)), (3, 32, 32), 4, out)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.bin")
    golden_io.write(path, out)
    print("wrote %s (%d arrays, %d bytes)" % (path, len(out), os.path.getsize(path)))


if __name__ == "__main__":
    main()
