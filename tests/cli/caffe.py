#!/usr/bin/python3
"""Caffe models for the tests of alexnet-import, without Caffe: the protobuf wire format by
hand (the field numbers of caffe.proto), and an independent forward pass with Caffe's
semantics in numpy (float64) to compare alexnet-predict with.

  caffe.py model OUT.caffemodel WEIGHTS.npz [--v1] [--full] [--seed N] [--variant V]
      a NetParameter of bvlc_alexnet's layers (data, conv1, relu1, norm1, pool1, ...,
      fc8, loss), random weights; --full: the paper's widths, else a narrow network;
      WEIGHTS.npz keeps the weights and the LRN for `forward`. Variants break one thing:
      caffenet (pool before norm), kernel (conv2 3x3), nan (a NaN in fc7), within (LRN
      WITHIN_CHANNEL), crop224 (data layer crop_size 224: Caffe pools to other sides),
      crop259 (crop_size 259: conv5 gives 7x7 maps, fc6 reads 6x6), transpose (fc weights stored
      transposed), wide (fc7 declares 1,000,000 outputs), renamed (conv3 called conv2), leaky (relu3 with a slope), nobias
      (conv1 without biases), legacy (V2 layers, blobs with num/channels/height/width)
  caffe.py mean OUT.binaryproto [--seed N]    a 3x256x256 BGR mean image
  caffe.py image OUT.png [--seed N] [--size S] an SxS RGB PNG (256)
  caffe.py synsets OUT.txt CLASSES             "n%08d class i" lines
  caffe.py forward WEIGHTS.npz MEAN IMAGE... [--lrn-within-towers]
      softmax of each image, crop 227 from the centre of the 256x256 image minus the mean,
      BGR: "path<TAB>p0 p1 ..." lines; --lrn-within-towers: the paper's LRN windows
      instead of Caffe's (a forward the comparison must tell apart)
  caffe.py torch MODULE.py MEAN CROP IMAGE...  the same lines from the PyTorch module of
      alexnet-export(1) (MODULE.py, which loads model.safetensors): images of the mean's
      size, the central CROP x CROP
"""
import struct
import sys

import numpy as np
from PIL import Image

SMALL = dict(conv=[16, 32, 24, 24, 16], fc=[32, 32], classes=10)
FULL = dict(conv=[96, 256, 384, 384, 256], fc=[4096, 4096], classes=1000)
GROUPS = [1, 2, 1, 2, 2]
KERNEL, STRIDE, PAD = [11, 5, 3, 3, 3], [4, 1, 1, 1, 1], [0, 2, 1, 1, 1]
LRN = dict(size=5, alpha=1e-4, beta=0.75, k=1.0)


# ---- the wire format ------------------------------------------------------------------
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_float(field, x):
    return key(field, 5) + struct.pack("<f", x)


def blob(a, legacy):
    a = np.ascontiguousarray(a, dtype="<f4")
    if legacy:  # num, channels, height, width: always four
        dims = [1] * (4 - a.ndim) + list(a.shape)
        head = b"".join(f_varint(f, d) for f, d in zip((1, 2, 3, 4), dims))
    else:
        head = f_bytes(7, f_bytes(1, b"".join(varint(d) for d in a.shape)))
    return head + f_bytes(5, a.tobytes())


class Net:
    """Layers in the V2 (`layer`, field 100) or V1 (`layers`, field 2) form."""

    V1_TYPES = dict(Data=5, Convolution=4, ReLU=18, LRN=15, Pooling=17, InnerProduct=14,
                    Dropout=6, SoftmaxWithLoss=21, Accuracy=1)
    V2 = dict(name=1, type=2, bottom=3, top=4, blobs=7, include=8, transform=100, conv=106,
              dropout=108, ip=117, lrn=118, pool=121, relu=123)
    V1 = dict(name=4, type=5, bottom=2, top=3, blobs=6, include=32, transform=36, conv=10,
              dropout=12, ip=17, lrn=18, pool=19, relu=30)

    def __init__(self, v1, legacy):
        self.v1, self.legacy, self.layers = v1, legacy or v1, []

    def add(self, name, type_, bottom=(), top=(), blobs=(), **params):
        F = self.V1 if self.v1 else self.V2
        m = f_bytes(F["name"], name)
        m += f_varint(F["type"], self.V1_TYPES[type_]) if self.v1 else f_bytes(F["type"], type_)
        m += b"".join(f_bytes(F["bottom"], b) for b in bottom)
        m += b"".join(f_bytes(F["top"], t) for t in top)
        m += b"".join(f_bytes(F["blobs"], blob(a, self.legacy)) for a in blobs)
        for p, body in params.items():
            m += f_bytes(F[p], body)
        self.layers.append(f_bytes(2 if self.v1 else 100, m))

    def bytes(self):
        return f_bytes(1, "AlexNet") + b"".join(self.layers)


def conv_param(n, k, s, p, g, bias=True):
    m = f_varint(1, n) + f_varint(4, k) + (f_varint(6, s) if s != 1 else b"")
    m += f_varint(3, p) if p else b""
    m += f_varint(5, g) if g != 1 else b""
    return m + (b"" if bias else f_varint(2, 0))


def pool_param():
    return f_varint(1, 0) + f_varint(2, 3) + f_varint(3, 2)


def lrn_param(within=False):
    m = f_varint(1, LRN["size"]) + f_float(2, LRN["alpha"]) + f_float(3, LRN["beta"])
    return m + (f_varint(4, 1) if within else b"")


def make_model(out, weights_out, v1=False, full=False, seed=0, variant=""):
    shape = FULL if full else SMALL
    rng = np.random.default_rng(seed)
    net = Net(v1, variant == "legacy")
    crop = {"crop224": 224, "crop259": 259}.get(variant, 227)
    net.add("data", "Data", top=["data", "label"], include=f_varint(1, 0),
            transform=f_varint(2, 1) + f_varint(3, crop) + f_bytes(4, "imagenet_mean.binaryproto"))
    w = {}
    cin, bottom = 3, "data"
    names = ["conv1", "conv2", "conv3", "conv4", "conv5"]
    if variant == "renamed":
        names[2] = "conv2"
    for i in range(5):
        k = 3 if variant == "kernel" and i == 1 else KERNEL[i]
        p = 1 if variant == "kernel" and i == 1 else PAD[i]
        n, g = shape["conv"][i], GROUPS[i]
        fan = cin // g * k * k
        wt = rng.normal(0, np.sqrt(2.0 / fan), (n, cin // g, k, k)).astype("f4")
        b = rng.normal(0.1, 0.1, n).astype("f4")
        nobias = variant == "nobias" and i == 0
        if nobias:
            b = np.zeros(n, "f4")
        w["conv%d.weight" % (i + 1)], w["conv%d.bias" % (i + 1)] = wt, b
        name = names[i]
        net.add(name, "Convolution", [bottom], [name], [wt] if nobias else [wt, b],
                conv=conv_param(n, k, STRIDE[i], p, g, not nobias))
        relu = f_float(1, 0.1) if variant == "leaky" and i == 2 else None
        if relu:
            net.add("relu%d" % (i + 1), "ReLU", [name], [name], relu=relu)
        else:
            net.add("relu%d" % (i + 1), "ReLU", [name], [name])
        bottom = name
        if i < 2:
            norm, pool = "norm%d" % (i + 1), "pool%d" % (i + 1)
            if variant == "caffenet":
                net.add(pool, "Pooling", [bottom], [pool], pool=pool_param())
                net.add(norm, "LRN", [pool], [norm], lrn=lrn_param())
                bottom = norm
            else:
                net.add(norm, "LRN", [bottom], [norm], lrn=lrn_param(variant == "within"))
                net.add(pool, "Pooling", [norm], [pool], pool=pool_param())
                bottom = pool
        if i == 4:
            net.add("pool5", "Pooling", [bottom], ["pool5"], pool=pool_param())
            bottom = "pool5"
        cin = n
    fin = cin * 6 * 6
    for j, fout in enumerate(shape["fc"] + [shape["classes"]]):
        name = "fc%d" % (j + 6)
        # fc8 smaller: logits of a few units, so that every probability counts
        std = np.sqrt(2.0 / fin) * (0.01 if j == 2 else 1)
        wt = rng.normal(0, std, (fout, fin)).astype("f4")
        b = rng.normal(0.05, 0.1, fout).astype("f4")
        if variant == "nan" and j == 1:
            wt[3, 5] = np.nan
        w[name + ".weight"], w[name + ".bias"] = wt, b
        stored = wt.T if variant == "transpose" else wt
        declared = 1000000 if variant == "wide" and j == 1 else fout
        ip = f_varint(1, declared) + (f_varint(6, 1) if variant == "transpose" else b"")
        net.add(name, "InnerProduct", [bottom], [name], [stored, b], ip=ip)
        if j < 2:
            net.add("relu%d" % (j + 6), "ReLU", [name], [name])
            net.add("drop%d" % (j + 6), "Dropout", [name], [name], dropout=f_float(1, 0.5))
        bottom, fin = name, fout
    net.add("loss", "SoftmaxWithLoss", [bottom, "label"], ["loss"])
    with open(out, "wb") as f:
        f.write(net.bytes())
    if weights_out:
        np.savez(weights_out, **w)


# ---- Caffe's forward pass, in float64 --------------------------------------------------
def conv(x, w, b, stride, pad, groups):
    c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.empty((k, oh, ow))
    kg = k // groups
    for g in range(groups):
        xg = x[g * cg:(g + 1) * cg]
        s = xg.strides
        cols = np.lib.stride_tricks.as_strided(
            xg, (cg, kh, kw, oh, ow), (s[0], s[1], s[2], s[1] * stride, s[2] * stride))
        wg = w[g * kg:(g + 1) * kg].reshape(kg, -1)
        out[g * kg:(g + 1) * kg] = (wg @ cols.reshape(cg * kh * kw, oh * ow)).reshape(kg, oh, ow)
    return out + b[:, None, None]


def lrn(x, size, alpha, beta, k):
    """Caffe's ACROSS_CHANNELS: scale = k + alpha/size * sum of squares in the window."""
    c = x.shape[0]
    sq = np.pad(x * x, ((size // 2, size // 2), (0, 0), (0, 0)))
    window = sum(sq[i:i + c] for i in range(size))
    return x * (k + alpha / size * window) ** -beta


def maxpool(x, size=3, stride=2):
    """Caffe's pooling: the output side rounds up."""
    c, h, w = x.shape
    oh = -(-(h - size) // stride) + 1
    ow = -(-(w - size) // stride) + 1
    out = np.full((c, oh, ow), -np.inf)
    for i in range(oh):
        for j in range(ow):
            win = x[:, i * stride:min(i * stride + size, h), j * stride:min(j * stride + size, w)]
            out[:, i, j] = win.max(axis=(1, 2))
    return out


def forward(w, x, lrn_towers=1):
    """lrn_towers 2: the paper's LRN within each tower instead of Caffe's (to show that the
    comparison can tell them apart)."""
    x = x.astype("f8")
    for i in range(5):
        W, b = w["conv%d.weight" % (i + 1)].astype("f8"), w["conv%d.bias" % (i + 1)]
        x = np.maximum(conv(x, W, b.astype("f8"), STRIDE[i], PAD[i], GROUPS[i]), 0)
        if i < 2:
            x = np.concatenate([lrn(t, **LRN) for t in np.split(x, lrn_towers)])
        if i in (0, 1, 4):
            x = maxpool(x)
    x = x.reshape(-1)
    for j in range(3):
        W, b = w["fc%d.weight" % (j + 6)].astype("f8"), w["fc%d.bias" % (j + 6)].astype("f8")
        x = W @ x + b
        if j < 2:
            x = np.maximum(x, 0)  # dropout: nothing at test time (Caffe scales in training)
    e = np.exp(x - x.max())
    return e / e.sum()


def read_mean(path):
    """A BlobProto as this script writes it: num, channels, height, width, packed data."""
    data = open(path, "rb").read()
    dims, i = [], 0
    while len(dims) < 4:
        i += 1
        v, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            v |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        dims.append(v)
    i += 1  # the data field's key
    n, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    return np.frombuffer(data[i:i + n], "<f4").reshape(dims[1:])


def input_of(path, mean, crop):
    """An image of the mean's size as alexnet-predict sees it: BGR planes minus the mean,
    the central crop x crop."""
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype="f8")
    x = rgb[:, :, ::-1].transpose(2, 0, 1) - mean
    o = (x.shape[1] - crop) // 2
    return x[:, o:o + crop, o:o + crop]


def main(argv):
    cmd = argv[1]
    opt = lambda name, default=None: argv[argv.index(name) + 1] if name in argv else default
    seed = int(opt("--seed", 0))
    if cmd == "model":
        make_model(argv[2], argv[3] if len(argv) > 3 and not argv[3].startswith("--") else None,
                   v1="--v1" in argv, full="--full" in argv, seed=seed,
                   variant=opt("--variant", ""))
    elif cmd == "mean":
        rng = np.random.default_rng(seed)
        m = rng.uniform(90, 140, (3, 256, 256)).astype("<f4")
        head = b"".join(f_varint(f, d) for f, d in zip((1, 2, 3, 4), (1, 3, 256, 256)))
        open(argv[2], "wb").write(head + f_bytes(5, m.tobytes()))
    elif cmd == "image":
        rng = np.random.default_rng(seed)
        side = int(opt("--size", 256))
        base = rng.integers(0, 256, (8, 8, 3)).astype("f8")
        img = np.kron(base, np.ones((32, 32, 1)))[:side, :side] if side <= 256 else None
        img = img + rng.normal(0, 20, (side, side, 3))
        Image.fromarray(np.clip(img, 0, 255).astype("u1"), "RGB").save(argv[2])
    elif cmd == "synsets":
        with open(argv[2], "w") as f:
            for i in range(int(argv[3])):
                f.write("n%08d class %d, a test class\n" % (i, i))
    elif cmd == "forward":
        towers = 2 if "--lrn-within-towers" in argv else 1
        w = np.load(argv[2])
        mean = read_mean(argv[3]).astype("f8")
        for path in [a for a in argv[4:] if not a.startswith("--")]:
            p = forward(w, input_of(path, mean, 227), towers)
            print(path + "\t" + " ".join("%.9f" % v for v in p))
    elif cmd == "torch":
        import torch
        env = {}
        exec(open(argv[2]).read(), env)  # the module of alexnet-export(1): env["net"]
        mean, crop = read_mean(argv[3]).astype("f8"), int(argv[4])
        for path in argv[5:]:
            x = torch.from_numpy(input_of(path, mean, crop)[None].astype("f4"))
            with torch.no_grad():
                p = torch.softmax(env["net"](x).double(), 1)[0].numpy()
            print(path + "\t" + " ".join("%.9f" % v for v in p))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
