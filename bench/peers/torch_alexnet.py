#!/usr/bin/python3
"""torch_alexnet.py: the paper's network in PyTorch, the peer of bench/train_step.sh,
bench/train.sh, bench/eval.sh and bench/gpu.sh.

    torch_alexnet.py [--device cpu|cuda] [--mode fp32 tf32 bf16] [--phase train infer]
                     [--batch 128 ...] [--iters 30] [--threads N] [--compile]

The network is the one alexnet-c runs: 3x227x227 input; conv1 96 11x11 stride 4; conv2
256 5x5 pad 2 in two groups; conv3 384 3x3 pad 1 across both towers; conv4 384 and conv5
256 3x3 pad 1 in two groups; ReLU after each; local response normalisation after conv1 and
conv2 within each tower (k 2, n 5, alpha 1e-4 on the sum of squares, beta 0.75: PyTorch
divides its alpha by n, so it is given 5e-4); max-pooling 3/2 after conv1, conv2 and
conv5; fc6 9216 -> 4096 and fc7 4096 -> 4096 with ReLU and dropout 0.5; fc8 4096 -> 1000;
softmax cross-entropy. Weights N(0, 0.01), biases 1 in conv2, conv4, conv5, fc6, fc7, else
0. A training step is forward, loss, backward and the SGD update with momentum 0.9 and
weight decay 0.0005 on the weights (not the biases); "infer" is a forward pass at test
time. Input is N(0, 50) noise with random labels, in memory, as in bench/train_step.c.

fp32 is the paper's arithmetic; tf32 lets cuDNN and cuBLAS use TF32 tensor cores; bf16
runs the step under autocast to bfloat16. --compile wraps the model in torch.compile.
Each step is timed alone (after synchronising the GPU) and the median of --iters steps,
after --warmup steps (cuDNN picks its fastest algorithms there, as alexnet-c's GPU backend
does), is reported, one line per mode, phase and batch:

    #model  mode  phase  batch  img_per_s  ms  peak_MiB
"""
import argparse
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES, CROP = 1000, 227


class TowerLRN(nn.Module):
    """Local response normalisation within each of the two towers' halves of the maps."""

    def __init__(self):
        super().__init__()
        self.lrn = nn.LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return torch.cat((self.lrn(a), self.lrn(b)), dim=1)


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, CLASSES)
        self.lrn = TowerLRN()
        for layer in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5,
                      self.fc6, self.fc7, self.fc8):
            nn.init.normal_(layer.weight, 0.0, 0.01)
            nn.init.zeros_(layer.bias)
        for layer in (self.conv2, self.conv4, self.conv5, self.fc6, self.fc7):
            nn.init.ones_(layer.bias)

    def forward(self, x):
        x = F.max_pool2d(self.lrn(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = torch.flatten(x, 1)
        x = F.dropout(F.relu(self.fc6(x)), 0.5, self.training)
        x = F.dropout(F.relu(self.fc7(x)), 0.5, self.training)
        return self.fc8(x)


def optimizer(model):
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    return torch.optim.SGD([{"params": weights, "weight_decay": 0.0005},
                            {"params": biases, "weight_decay": 0.0}], lr=0.01, momentum=0.9)


def peak_mib(device):
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(a, mode, phase, batch):
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    torch.manual_seed(1)
    model = AlexNet().to(dev)
    net = torch.compile(model) if a.compile else model
    opt = optimizer(model)
    x = (torch.randn(batch, 3, CROP, CROP) * 50).to(dev)
    y = torch.randint(0, CLASSES, (batch,)).to(dev)
    autocast = torch.autocast(device_type=a.device, dtype=torch.bfloat16, enabled=mode == "bf16")
    if a.device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step():
        if phase == "train":
            model.train()
            with autocast:
                loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.no_grad(), autocast:
                net(x)

    times = []
    for i in range(a.warmup + a.iters):
        if a.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if a.device == "cuda":
            torch.cuda.synchronize()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    tag = "torch.compile" if a.compile else "torch"
    print(f"{tag}\t{mode}\t{phase}\t{batch}\t{batch / t:.1f}\t{t * 1e3:.2f}\t{peak_mib(a.device):.0f}",
          flush=True)


def main():
    p = argparse.ArgumentParser(description="the paper's AlexNet in PyTorch, timed")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   choices=["cpu", "cuda"])
    p.add_argument("--mode", nargs="+", default=["fp32"], choices=["fp32", "tf32", "bf16"])
    p.add_argument("--phase", nargs="+", default=["train"], choices=["train", "infer"])
    p.add_argument("--batch", type=int, nargs="+", default=[128])
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps first (3 on a GPU, cuDNN choosing its algorithms; 1 on the CPU)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--compile", action="store_true")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.warmup is None:
        a.warmup = 3 if a.device == "cuda" else 1
    torch.backends.cudnn.benchmark = True
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_alexnet.py: no CUDA device", file=sys.stderr)
        return 1
    where = torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"
    print(f"#torch {torch.__version__} device {where} threads {torch.get_num_threads()}")
    print("#model\tmode\tphase\tbatch\timg_per_s\tms\tpeak_MiB")
    for mode in a.mode:
        for phase in a.phase:
            for batch in a.batch:
                run(a, mode, phase, batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
