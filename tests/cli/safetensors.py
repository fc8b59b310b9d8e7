#!/usr/bin/python3
"""safetensors files for the tests of alexnet-export and alexnet-import, read and written with
nothing but Python's json, struct and numpy (no safetensors package, no PyTorch).

  safetensors.py check FILE PARAMS   the header as the format says: every name conv1.weight
      ... fc8.bias in that order, F32, PyTorch's shapes (conv K x C/g x h x w, fc out x in),
      data_offsets back to back from 0 to the end of the file, PARAMS floats in all, every
      value finite; prints "name<TAB>shape" lines and the count
  safetensors.py strip IN OUT        the same tensors without the __metadata__
  safetensors.py edit IN OUT WHAT    a damaged copy: WHAT is dtype (conv1.weight as F16),
      missing (no fc8.bias), extra (a tensor "fc9.weight"), shape (fc7.weight's dims
      swapped), nan (a NaN in conv3.weight), offsets (fc8.bias past the end), json (a cut
      header), huge (a header length larger than the file)
  safetensors.py inverted IN OUT [SCALE]  a network trained with the paper's dropout
      (dropout_scale test in alexnet.config) as the inverted-dropout network that computes
      the same function: fc7.weight and fc8.weight times 1 - p (the layers that read a
      dropout's output; SCALE, when given, instead of 1 - p) and the dropout_scale line
      dropped
"""
import json
import struct
import sys

import numpy as np

NAMES = [l + s for l in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
         for s in (".weight", ".bias")]


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", None)
    return header, meta, b[8 + n:], n


def write(path, header, meta, data):
    if meta is not None:
        header = dict(__metadata__=meta, **header)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)


def check(path, params):
    header, meta, data, n = read(path)
    assert n % 8 == 0, "header length %d is not a multiple of 8" % n
    assert list(header) == NAMES, list(header)
    assert meta["format"] == "pt", meta
    at, total = 0, 0
    for name in NAMES:
        e = header[name]
        assert e["dtype"] == "F32", (name, e)
        begin, end = e["data_offsets"]
        assert begin == at, (name, begin, at)
        count = int(np.prod(e["shape"]))
        assert end - begin == 4 * count, (name, e)
        x = np.frombuffer(data[begin:end], "<f4")
        assert np.isfinite(x).all(), name
        print("%s\t%s" % (name, "x".join(map(str, e["shape"]))))
        at, total = end, total + count
    assert at == len(data), (at, len(data))
    conv = [header["conv%d.weight" % i]["shape"] for i in range(1, 6)]
    assert all(len(s) == 4 for s in conv), conv
    fc = [header["fc%d.weight" % i]["shape"] for i in (6, 7, 8)]
    assert fc[1][1] == fc[0][0] and fc[2][1] == fc[1][0], fc
    assert all(header[w + ".bias"]["shape"] == header[w + ".weight"]["shape"][:1]
               for w in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"))
    print("parameters\t%d" % total)
    assert total == params, (total, params)


def edit(src, dst, what):
    header, meta, data, n = read(src)
    if what == "dtype":
        header["conv1.weight"]["dtype"] = "F16"
    elif what == "missing":
        del header["fc8.bias"]
    elif what == "extra":
        header["fc9.weight"] = dict(dtype="F32", shape=[1], data_offsets=[0, 4])
    elif what == "shape":
        header["fc7.weight"]["shape"] = header["fc7.weight"]["shape"][::-1] + [1]
    elif what == "nan":
        data = bytearray(data)
        b = header["conv3.weight"]["data_offsets"][0] + 8
        data[b:b + 4] = struct.pack("<f", float("nan"))
        data = bytes(data)
    elif what == "offsets":
        header["fc8.bias"]["data_offsets"] = [len(data) - 4, len(data) + 36]
    if what in ("json", "huge"):
        b = open(src, "rb").read()
        if what == "json":
            cut = b[8:8 + n].replace(b'"shape"', b'"shape" 7', 1)
            b = b[:8] + cut + b[8 + n:]
            b = struct.pack("<Q", len(cut)) + b[8:]
        else:
            b = struct.pack("<Q", len(b)) + b[8:]
        open(dst, "wb").write(b)
        return
    write(dst, header, meta, data)


def inverted(src, dst, scale=None):
    header, meta, data, n = read(src)
    lines = meta["alexnet.config"].splitlines(keepends=True)
    assert "dropout_scale test\n" in lines, lines
    p = float([l for l in lines if l.startswith("dropout ")][0].split()[1])
    keep = np.float32(1) - np.float32(p) if scale is None else np.float32(scale)
    meta["alexnet.config"] = "".join(l for l in lines if l != "dropout_scale test\n")
    data = bytearray(data)
    for name in ("fc7.weight", "fc8.weight"):
        begin, end = header[name]["data_offsets"]
        w = np.frombuffer(bytes(data[begin:end]), "<f4") * keep
        data[begin:end] = w.astype("<f4").tobytes()
    write(dst, header, meta, bytes(data))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "check":
        check(sys.argv[2], int(sys.argv[3]))
    elif cmd == "strip":
        header, meta, data, n = read(sys.argv[2])
        write(sys.argv[3], header, None, data)
    elif cmd == "edit":
        edit(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "inverted":
        inverted(sys.argv[2], sys.argv[3], *sys.argv[4:5])
    else:
        sys.exit("unknown command " + cmd)
