#!/usr/bin/python3
"""Reference fixtures for the C unit tests: the whole AlexNet, computed by PyTorch.

Run by hand (not by CI), from the repository root, with Debian's python (the one that
has torch 1.13 and numpy):

    /usr/bin/python3 tests/ref/make_fixture.py [OUTDIR]     # OUTDIR defaults to tests/ref

It writes two files and prints a summary of each:

    paper_small.fix     the paper's topology at reduced width: two towers (conv groups
                        1,2,1,2,2), LRN, overlapping max-pooling 3/2, ReLU, dropout 0.5
    ablation_small.fix  the same sizes with one tower, no LRN, plain pooling 2/2, tanh,
                        no dropout

Both: 10 classes, 3x99x99 input (conv1 -> 23x23, pool1 -> 11, pool2 -> 5, pool5 -> 2),
conv widths 16,32,48,48,32, fc widths 64,64, batch 4, dropout seed 1234. Inputs, labels and
initial parameters come from numpy's legacy RandomState (not from our RNG; inputs uniform
in [-100, 100] like mean-subtracted pixels, labels uniform in 0..9, both from seed 2012 and
shared by the two files; weights N(0, sigma[layer]) from the per-file `param_seed`, biases
as the paper); the dropout masks come from our Philox4x32-10 stream, reimplemented here in
numpy, so the C side can draw the very same masks. The inputs and initial parameters are
rounded to float32 first, so the float64 computation starts from exactly the stored
values; every result is then stored as float32.

The sigmas are chosen (see CONFIGS) so that the network is in a useful regime, which the
script asserts: ReLUs neither all dead nor all alive, tanh units not all saturated, LRN
denominators clearly above k, logits O(1), loss not log(10), and three SGD steps lower the
dropout-free loss. The parameter seeds are chosen so that no ReLU input and no max-pool
winner is within float32 noise of a decision boundary: the script replays the whole run in
float32 and asserts that no ReLU sign or max-pool winner changes and that every record
stays within 1e-5 (relative to the record's largest magnitude) of the reference. The
summary it prints shows how close float32 gets (about 1e-6), a guide for C tolerances.

File format (little-endian): 8 bytes magic "ANETFIX1"; u32 record count; then per record:
u32 name length, the name bytes (no NUL), u32 ndim (1..4), ndim x u32 dims, prod(dims)
float32 values (C order).

Records: input (N,3,99,99); labels (N, as float); every initial parameter by name
(conv1.weight k x c/groups x kh x kw, conv1.bias k, ..., fc6.weight out x in, ...);
logits (N,10: training forward at step 0 with step 0's dropout masks); loss (1, mean
softmax cross-entropy of those logits); logits_eval (no dropout); grad.<param> (gradient
of the mean loss at step 0, training mode, no weight decay in it); after3.<param>
(parameters after SGD iterations 0, 1, 2 on the same batch, each with its own step's
dropout masks); loss_step0..2 (the loss of the forward pass of each iteration, before
its update); config.* scalars (1-element tensors).

Conventions the C side must match:
  * LRN as the paper: b_i = a_i / (k + alpha * sum_{j=i-2}^{i+2} a_j^2)^beta, clipped at
    the channel ends, k=2, n=5, alpha=1e-4 NOT divided by n (torch divides it, so torch
    gets alpha = 5e-4; checked against a hand computation below). With two towers each
    tower's maps are normalised on their own (the window stops at the tower's edge), as
    on the paper's two GPUs.
  * Dropout (inverted): element i of the n x features ReLU output of fc6 (fc7), flat
    C-order index, at iteration `step`, is kept iff ((u >> 8) * 2^-24) >= p with
    u = anet_rng_u32(seed, step, 16 + 6 (16 + 7), i); kept units are scaled by 1/(1-p).
  * SGD (paper, section 5): v <- 0.9 v - 0.0005 lr w - lr g; w <- w + v; lr = 0.01; v = 0
    at the start; the decay term only for *.weight, never for biases (cuda-convnet).
  * Order: conv -> act -> LRN -> max-pool (conv1, conv2); conv5 -> act -> max-pool;
    flatten in (C, H, W) order; fc6 -> act -> dropout; fc7 -> act -> dropout; fc8 ->
    softmax cross-entropy, mean over the batch. Groups 1,2,1,2,2 with two towers.
  * Max pooling without padding, floor output size; ties go to the first maximum in
    row-major window order (torch CPU does the same). Only windows whose gradient does
    not matter tie: all-zero ReLU windows (the ReLU stops the gradient) and saturated
    tanh windows (tanh' ~ 0).
"""
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# ---------------------------------------------------------------------------------------
# Philox4x32-10 (Salmon et al., SC'11), vectorised over blocks, as lib/core/rng.c.
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)
S32 = np.uint64(32)


def philox4x32(c0, c1, c2, c3, k0, k1):
    """c*: arrays (any shape, values < 2^32) of the counter words; k0, k1: ints."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & MASK32 for c in (c0, c1, c2, c3))
    c0, c1, c2, c3 = np.broadcast_arrays(c0, c1, c2, c3)
    k0, k1 = int(k0) & 0xFFFFFFFF, int(k1) & 0xFFFFFFFF
    for _ in range(10):
        p0 = M0 * c0  # 32x32 -> 64 bits, fits uint64 exactly
        p1 = M1 * c2
        n0 = (p1 >> S32) ^ c1 ^ np.uint64(k0)
        n1 = p1 & MASK32
        n2 = (p0 >> S32) ^ c3 ^ np.uint64(k1)
        n3 = p0 & MASK32
        c0, c1, c2, c3 = n0, n1, n2, n3
        k0 = (k0 + W0) & 0xFFFFFFFF
        k1 = (k1 + W1) & 0xFFFFFFFF
    return c0, c1, c2, c3


def rng_u32(seed, step, purpose, count):
    """anet_rng_u32(seed, step, purpose, i) for i in 0..count-1, as a uint64 array."""
    nblk = (count + 3) // 4
    blk = np.arange(nblk, dtype=np.uint64)
    words = philox4x32(blk & MASK32, blk >> S32, np.uint64(step), np.uint64(purpose),
                       seed & 0xFFFFFFFF, seed >> 32)
    return np.stack(words, axis=1).reshape(-1)[:count]


def check_philox():
    kat = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
           ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
            (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]
    for ctr, key, want in kat:
        got = tuple(int(w) for w in philox4x32(*ctr, *key))
        assert got == want, "Philox known answer: got %s" % [hex(g) for g in got]
    # the index layout: word i%4 of block i/4 (counter low, high, step, purpose)
    u = rng_u32(0x1_0000_0002, 7, 22, 10)
    w = philox4x32(2, 0, 7, 22, 2, 1)
    assert int(u[9]) == int(w[1]), "rng_u32 index layout"
    big = philox4x32(5, 3, 7, 22, 2, 1)  # block (3 << 32) + 5 needs the high counter word
    blk = np.array([(3 << 32) + 5], dtype=np.uint64)
    assert int(philox4x32(blk & MASK32, blk >> S32, 7, 22, 2, 1)[2][0]) == int(big[2])


def dropout_mask(seed, step, purpose, shape, p):
    count = int(np.prod(shape))
    u = rng_u32(seed, step, purpose, count)
    uni = (u >> np.uint64(8)).astype(np.float64) * 2.0 ** -24
    keep = uni >= p
    return torch.from_numpy((keep / (1.0 - p)).reshape(shape))


# ---------------------------------------------------------------------------------------
# LRN as the paper writes it, through torch (which divides alpha by size).
LRN_SIZE, LRN_K, LRN_ALPHA, LRN_BETA = 5, 2.0, 1e-4, 0.75


def lrn(x):
    return F.local_response_norm(x, LRN_SIZE, alpha=LRN_SIZE * LRN_ALPHA, beta=LRN_BETA,
                                 k=LRN_K)


def lrn_sum(x):
    """alpha * sum_{j=i-2}^{i+2} a_j^2 (the part of the denominator beyond k)."""
    sq = x * x
    c = x.shape[1]
    out = torch.zeros_like(x)
    for i in range(c):
        out[:, i] = sq[:, max(0, i - 2):min(c, i + 3)].sum(dim=1)
    return LRN_ALPHA * out


def check_lrn():
    vals = [30.0, -70.0, 55.0, 0.0, 120.0, -15.0, 90.0]
    x = torch.tensor(vals).reshape(1, 7, 1, 1)
    got = lrn(x).reshape(-1).tolist()
    c = len(vals)
    for i in range(c):
        s = sum(vals[j] ** 2 for j in range(max(0, i - 2), min(c, i + 3)))
        want = vals[i] / (LRN_K + LRN_ALPHA * s) ** LRN_BETA
        assert abs(got[i] - want) <= 1e-12 * max(1.0, abs(want)), \
            "LRN channel %d: torch %r, paper %r" % (i, got[i], want)
    # the window really is i-2..i+2: a lone spike at channel 3 of 7 changes 1..5 only
    x = torch.ones(1, 7, 2, 2)
    base = lrn(x)
    x[0, 3] = 100.0
    diff = (lrn(x) - base).abs().amax(dim=(0, 2, 3)) > 0
    assert diff.tolist() == [False, True, True, True, True, True, False], diff.tolist()


# ---------------------------------------------------------------------------------------
# The network.
PARAMS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
CONVS = [("conv1", 11, 4, 0), ("conv2", 5, 1, 2), ("conv3", 3, 1, 1), ("conv4", 3, 1, 1),
         ("conv5", 3, 1, 1)]
ONE_BIAS = {"conv2", "conv4", "conv5", "fc6", "fc7"}


def groups_of(cfg):
    return [1, 2, 1, 2, 2] if cfg["towers"] == 2 else [1, 1, 1, 1, 1]


def shapes(cfg):
    out = {}
    c = 3
    for (name, ks, _, _), k, g in zip(CONVS, cfg["convs"], groups_of(cfg)):
        out[name + ".weight"] = (k, c // g, ks, ks)
        out[name + ".bias"] = (k,)
        c = k
    side = cfg["crop"]
    side = (side - 11) // 4 + 1
    for _ in range(3):
        side = (side - cfg["pool_size"]) // cfg["pool_stride"] + 1
    fin = c * side * side
    for name, fout in (("fc6", cfg["fc6"]), ("fc7", cfg["fc7"]), ("fc8", cfg["classes"])):
        out[name + ".weight"] = (fout, fin)
        out[name + ".bias"] = (fout,)
        fin = fout
    return out


def init_params(cfg, rs):
    """Weights N(0, sigma[layer]); biases 1 in conv2, conv4, conv5, fc6, fc7, else 0."""
    P = {}
    for name, shp in shapes(cfg).items():
        layer, kind = name.split(".")
        if kind == "weight":
            P[name] = torch.from_numpy(rs.normal(0.0, cfg["sigma"][layer], size=shp))
        else:
            P[name] = torch.full(shp, 1.0 if layer in ONE_BIAS else 0.0)
    return P


def forward(cfg, P, x, labels, step, train, stats=None, trace=None):
    """Returns (logits, mean loss). stats: diagnostics (lists, one entry per call);
    trace: the discrete decisions (ReLU signs, max-pool winners), for the float32 check."""
    act = torch.tanh if cfg["tanh"] else torch.relu
    ps, pst = cfg["pool_size"], cfg["pool_stride"]

    def note(key, value):
        if stats is not None:
            stats.setdefault(key, []).append(value)

    def pool(h, layer):
        if stats is not None:  # gap between the best and second-best of every window
            n, c = h.shape[:2]
            win = F.unfold(h.detach().reshape(n * c, 1, *h.shape[2:]), ps, stride=pst)
            top = win.topk(2, dim=1).values
            gap = (top[:, 0] - top[:, 1])[carries(top[:, 0])]
            note("pool_gap." + layer, float(gap.min() / h.detach().abs().max()))
        y, idx = F.max_pool2d(h, ps, stride=pst, return_indices=True)
        if trace is not None:
            trace.append(torch.where(carries(y.detach()), idx, -1))
        return y

    def carries(top):
        """Windows whose winner passes on a gradient: a ReLU window that is not all zero;
        a tanh window whose maximum is not saturated (1 - y^2 > 1e-3; among saturated
        values float32 cannot tell the maximum, but there tanh' ~ 0 anyway)."""
        return top > 0 if not cfg["tanh"] else 1 - top * top > 1e-3

    def activate(z, layer):
        zd = z.detach()
        if stats is not None:
            note("live." + layer, float((zd > 0).double().mean()))
            note("margin." + layer, float(zd.abs().min() / zd.abs().max()))
            note("rms." + layer, float(zd.pow(2).mean().sqrt()))
            note("slope." + layer, float((1 - torch.tanh(zd) ** 2).mean()))
            note("std." + layer, float(zd.std()))
        if trace is not None and not cfg["tanh"]:
            trace.append(zd > 0)
        return act(z)

    h = x
    for (name, _, stride, pad), g in zip(CONVS, groups_of(cfg)):
        h = F.conv2d(h, P[name + ".weight"], P[name + ".bias"], stride=stride, padding=pad,
                     groups=g)
        h = activate(h, name)
        if name in ("conv1", "conv2") and cfg["lrn"]:
            if stats is not None:
                note("lrn_ratio." + name, float(lrn_sum(h.detach()).mean() / LRN_K))
            h = torch.cat([lrn(t) for t in h.chunk(cfg["towers"], dim=1)], dim=1)
        if name in ("conv1", "conv2", "conv5"):
            h = pool(h, name)
    h = h.reshape(h.shape[0], -1)
    for name, purpose in (("fc6", 16 + 6), ("fc7", 16 + 7)):
        h = activate(F.linear(h, P[name + ".weight"], P[name + ".bias"]), name)
        if train and cfg["dropout"] > 0:
            mask = dropout_mask(cfg["seed"], step, purpose, tuple(h.shape), cfg["dropout"])
            note("kept." + name, float((mask > 0).double().mean()))
            h = h * mask.to(h.dtype)
    logits = F.linear(h, P["fc8.weight"], P["fc8.bias"])
    loss = F.cross_entropy(logits, labels, reduction="mean")
    return logits, loss


def sgd_step(cfg, P, V, G):
    lr, mom, decay = cfg["lr"], cfg["momentum"], cfg["decay"]
    for name in P:
        wd = decay if name.endswith(".weight") else 0.0
        V[name] = mom * V[name] - wd * lr * P[name] - lr * G[name]
        P[name] = P[name] + V[name]


def run(cfg, P0, x, labels, stats=None, trace=None):
    """Eval forward, then three SGD iterations (steps 0, 1, 2) on the batch."""
    with torch.no_grad():
        logits_eval, loss_eval = forward(cfg, P0, x, labels, 0, False, stats, trace)
    P = {k: v.clone() for k, v in P0.items()}
    V = {k: torch.zeros_like(v) for k, v in P0.items()}
    out = dict(logits_eval=logits_eval, loss_eval=float(loss_eval), losses=[], steps=[])
    for step in range(3):
        leaves = {k: v.clone().requires_grad_(True) for k, v in P.items()}
        logits, loss = forward(cfg, leaves, x, labels, step, True, stats, trace)
        loss.backward()
        G = {k: v.grad.detach().clone() for k, v in leaves.items()}
        if step == 0:
            out["grad"], out["logits"] = G, logits.detach().clone()
        out["losses"].append(float(loss))
        old = {k: v.clone() for k, v in P.items()}
        sgd_step(cfg, P, V, G)
        out["steps"].append({k: float((P[k] - old[k]).norm() / old[k].norm())
                             for k in P if k.endswith(".weight")})
    out["after3"] = P
    with torch.no_grad():
        out["loss_eval_after3"] = float(forward(cfg, P, x, labels, 3, False)[1])
    return out


# ---------------------------------------------------------------------------------------
def write_fixture(path, records):
    with open(path + ".tmp", "wb") as f:
        f.write(b"ANETFIX1")
        f.write(struct.pack("<I", len(records)))
        for name, t in records:
            a = np.ascontiguousarray(np.asarray(t, dtype=np.float64).astype("<f4"))
            if a.ndim == 0:
                a = a.reshape(1)
            assert 1 <= a.ndim <= 4, name
            assert np.all(np.isfinite(a)), name
            nb = name.encode("ascii")
            f.write(struct.pack("<I", len(nb)) + nb)
            f.write(struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.tobytes())
    os.replace(path + ".tmp", path)


def f32(t):
    """Round to float32 and back: the reference starts from exactly the stored values."""
    return t.float().double()


def rel_err(a, b):
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


def build(cfg, outdir):
    data = np.random.RandomState(2012)  # inputs and labels: the same in both fixtures
    n, crop = cfg["batch"], cfg["crop"]
    x = f32(torch.from_numpy(data.uniform(-100.0, 100.0, size=(n, 3, crop, crop))))
    labels = torch.from_numpy(data.randint(0, cfg["classes"], size=n).astype(np.int64))
    P0 = init_params(cfg, np.random.RandomState(cfg["param_seed"]))
    P0 = {k: f32(v) for k, v in P0.items()}

    stats, trace64, trace32 = {}, [], []
    ref = run(cfg, P0, x, labels, stats, trace64)
    # the same computation in float32 (as the C side does it), to show the fixture is far
    # enough from every ReLU and max-pool decision boundary and to measure the errors
    sh = run(cfg, {k: v.float() for k, v in P0.items()}, x.float(), labels, None, trace32)

    P, grad0, losses = ref["after3"], ref["grad"], ref["losses"]
    records = [("input", x), ("labels", labels.double())]
    records += [(k, v) for k, v in P0.items()]
    records += [("logits", ref["logits"]), ("loss", [losses[0]]),
                ("logits_eval", ref["logits_eval"])]
    records += [("grad." + k, v) for k, v in grad0.items()]
    records += [("after3." + k, v) for k, v in P.items()]
    records += [("loss_step%d" % i, [l]) for i, l in enumerate(losses)]
    conf = [("classes", cfg["classes"]), ("crop", crop), ("towers", cfg["towers"]),
            ("lrn", int(cfg["lrn"])), ("pool_size", cfg["pool_size"]),
            ("pool_stride", cfg["pool_stride"]), ("tanh", int(cfg["tanh"])),
            ("dropout", cfg["dropout"]), ("batch", n), ("seed", cfg["seed"])]
    conf += [("conv%d" % (i + 1), w) for i, w in enumerate(cfg["convs"])]
    conf += [("fc6", cfg["fc6"]), ("fc7", cfg["fc7"]), ("lr", cfg["lr"]),
             ("momentum", cfg["momentum"]), ("decay", cfg["decay"])]
    records += [("config." + k, [v]) for k, v in conf]
    names = [r[0] for r in records]
    assert len(names) == len(set(names))
    path = os.path.join(outdir, cfg["name"] + ".fix")

    # ---- summary and sanity checks -----------------------------------------------------
    le, l0 = ref["logits_eval"], ref["logits"]
    print("== %s: %d records" % (cfg["name"], len(records)))
    print("  sigma: " + ", ".join("%s %.4g" % kv for kv in cfg["sigma"].items()))
    print("  labels %s" % labels.tolist())
    print("  loss: eval %.6f; train steps 0,1,2: %s   (log 10 = %.6f)"
          % (ref["loss_eval"], ", ".join("%.6f" % l for l in losses), np.log(10)))
    print("  eval loss after the three steps: %.6f" % ref["loss_eval_after3"])
    print("  logits_eval range [%.4f, %.4f] std %.4f; train logits range [%.4f, %.4f]"
          % (le.min(), le.max(), le.std(), l0.min(), l0.max()))
    layers = [c[0] for c in CONVS] + ["fc6", "fc7"]
    kind = "tanh" if cfg["tanh"] else "ReLU"
    heads = {"live": "fraction of %s inputs > 0" % kind, "rms": "rms pre-activation",
             "slope": "mean tanh'(pre-activation)", "std": "std of pre-activation",
             "margin": "min |pre-activation| / max"}
    print("  per layer, at eval and train steps 0, 1, 2:")
    for key in ["live", "rms", "margin"] + (["std", "slope"] if cfg["tanh"] else []):
        print("    %s:" % heads[key])
        for l in layers:
            vals = stats[key + "." + l]
            print("      %-5s %s" % (l, "  ".join("%.3g" % v for v in vals)))
    print("    min max-pool gap (top1 - top2 over live windows) / max:")
    for l in ("conv1", "conv2", "conv5"):
        print("      %-5s %s" % (l, "  ".join("%.2g" % v for v in stats["pool_gap." + l])))
    if cfg["lrn"]:
        for l in ("conv1", "conv2"):
            r = stats["lrn_ratio." + l]
            print("  LRN after %s: mean(alpha * sum a^2) / k = %s"
                  % (l, "  ".join("%.4f" % v for v in r)))
    if cfg["dropout"] > 0:
        for l in ("fc6", "fc7"):
            print("  dropout after %s, kept fraction at steps 0,1,2: %s"
                  % (l, "  ".join("%.3f" % v for v in stats["kept." + l])))
    print("  |dw| / |w| per SGD step:")
    for i, st in enumerate(ref["steps"]):
        print("    step %d: %s" % (i, "  ".join("%s %.3g" % (k.split(".")[0], v)
                                                for k, v in st.items())))
    robust = min(min(v) for k, v in stats.items() if k.startswith(("margin.", "pool_gap.")))
    print("  smallest ReLU margin or max-pool gap / max, anywhere: %.2g" % robust)
    flips = sum(int((a != b).sum()) for a, b in zip(trace64, trace32))
    print("  torch float32 vs this float64 reference: %d ReLU/max-pool decisions differ"
          " (ReLU signs; winners of gradient-carrying pool windows)"
          % flips)
    print("    max |err| / max |ref|: logits_eval %.2g, logits %.2g, loss %.2g"
          % (rel_err(sh["logits_eval"], le), rel_err(sh["logits"], l0),
             abs(sh["losses"][0] - losses[0]) / losses[0]))
    print("    grad.*:  %s" % "  ".join("%s %.2g" % (k, rel_err(sh["grad"][k], grad0[k]))
                                      for k in grad0))
    print("    after3.*: %s" % "  ".join("%s %.2g" % (k, rel_err(sh["after3"][k], P[k]))
                                        for k in P))
    worst = max([rel_err(sh["logits_eval"], le), rel_err(sh["logits"], l0)]
                + [rel_err(sh["grad"][k], grad0[k]) for k in grad0]
                + [rel_err(sh["after3"][k], P[k]) for k in P])
    print("    worst: %.2g" % worst)

    # the network is in a useful regime: not degenerate, not exploding, and robust
    if cfg["lrn"]:
        for l in ("conv1", "conv2"):
            assert stats["lrn_ratio." + l][0] >= 0.05, "LRN denominators too close to k"
    for l in layers:
        live = stats["live." + l][0]
        if cfg["tanh"]:  # not stuck in saturation, and the input matters (biases of 1
            # put most inputs above 0: what counts is the spread around the bias)
            assert stats["slope." + l][0] > 0.05 and stats["std." + l][0] > 0.2, l
        else:
            assert 0.1 < live < 0.9, "%s: fraction of inputs > 0 %.3f" % (l, live)
    assert 0.5 < float(le.std()) and float(le.abs().max()) < 30, "logits scale"
    assert abs(ref["loss_eval"] - np.log(10)) > 0.1 and abs(losses[0] - np.log(10)) > 0.1
    assert all(np.isfinite(losses)) and ref["loss_eval_after3"] < ref["loss_eval"], \
        "three SGD steps must lower the (dropout-free) loss"
    assert flips == 0, "float32 flips a ReLU or max-pool decision: pick another seed"
    assert worst < 1e-5, "float32 differs too much from the reference"

    write_fixture(path, records)  # only once every check has passed
    print("  wrote %s, %d bytes" % (path, os.path.getsize(path)))
    return path


COMMON = dict(classes=10, crop=99, convs=[16, 32, 48, 48, 32], fc6=64, fc7=64, batch=4,
              seed=1234, lr=0.01, momentum=0.9, decay=0.0005)

CONFIGS = [
    dict(COMMON, name="paper_small", towers=2, lrn=True, pool_size=3, pool_stride=2,
         tanh=False, dropout=0.5, param_seed=1,
         sigma=dict(conv1=0.03, conv2=0.075, conv3=0.026, conv4=0.05, conv5=0.05,
                    fc6=0.08, fc7=0.1, fc8=0.1)),
    dict(COMMON, name="ablation_small", towers=1, lrn=False, pool_size=2, pool_stride=2,
         tanh=True, dropout=0.0, param_seed=8,
         sigma=dict(conv1=0.01, conv2=0.03, conv3=0.05, conv4=0.06, conv5=0.06,
                    fc6=0.1, fc7=0.15, fc8=0.4)),
]


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "ref")
    check_philox()
    check_lrn()
    print("Philox4x32-10 known answers and the paper's LRN: ok")
    for cfg in CONFIGS:
        build(cfg, outdir)


if __name__ == "__main__":
    main()
