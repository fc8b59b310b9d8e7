#!/usr/bin/python3
"""pil_prep.py: alexnet-prep's work done with PIL, the peer of bench/prep.sh.

    pil_prep.py ROOT LIST OUT.lmdb [--workers N]

LIST is a Caffe list, "relative/path label" a line, paths under ROOT. Each image is
decoded (libjpeg-turbo through PIL, reduced in the DCT domain by draft() while both sides
stay at least 256, as alexnet-prep does), its shorter side resized to 256 with PIL's
bilinear filter (a triangle that widens when shrinking, alexnet-prep's filter), the
central 256x256 kept, turned into BGR planes, and stored as a Caffe Datum (channels 3,
height, width, data, label) under the key %08d_<path> in an LMDB, which is synced before
the clock stops. N worker processes decode and resize; the parent writes, as alexnet-prep
has decoding threads and one writer. Unreadable images are counted and skipped.

Prints one line: pil_prep, images written, images skipped, seconds, images a second.
"""
import argparse
import multiprocessing
import os
import sys
import time

import lmdb
import numpy as np
from PIL import Image

SIDE = 256


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def datum(planes, label):
    """A Caffe Datum: channels=1, height=2, width=3 (varints), data=4 (bytes), label=5."""
    c, h, w = planes.shape
    data = planes.tobytes()
    return (b"\x08" + varint(c) + b"\x10" + varint(h) + b"\x18" + varint(w)
            + b"\x22" + varint(len(data)) + data + b"\x28" + varint(label & 0xFFFFFFFFFFFFFFFF))


def prepare(job):
    """(index, key, value) of one image, or (index, None, reason)."""
    i, root, rel, label = job
    try:
        with Image.open(os.path.join(root, rel)) as im:
            im.draft("RGB", (SIDE, SIDE))
            im = im.convert("RGB")
            w, h = im.size
            s = SIDE / min(w, h)
            nw, nh = max(SIDE, round(w * s)), max(SIDE, round(h * s))
            im = im.resize((nw, nh), Image.BILINEAR)
            x, y = (nw - SIDE) // 2, (nh - SIDE) // 2
            im = im.crop((x, y, x + SIDE, y + SIDE))
        rgb = np.asarray(im, dtype=np.uint8)
        planes = np.ascontiguousarray(rgb[:, :, ::-1].transpose(2, 0, 1))
        return i, f"{i:08d}_{rel}".encode(), datum(planes, label)
    except (OSError, ValueError) as e:
        return i, None, str(e)


def main():
    p = argparse.ArgumentParser(description="alexnet-prep's work with PIL")
    p.add_argument("root")
    p.add_argument("list")
    p.add_argument("out")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    a = p.parse_args()
    jobs = []
    with open(a.list) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                jobs.append((len(jobs), a.root, parts[0], int(parts[1])))
    t0 = time.perf_counter()
    env = lmdb.open(a.out, map_size=1 << 40, subdir=True, sync=False, metasync=False)
    written = bad = 0
    with multiprocessing.Pool(a.workers) as pool:
        txn = env.begin(write=True)
        for i, key, value in pool.imap(prepare, jobs, chunksize=16):
            if key is None:
                print(f"pil_prep: {jobs[i][2]}: {value}", file=sys.stderr)
                bad += 1
                continue
            txn.put(key, value)
            written += 1
            if written % 256 == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
    env.sync(True)
    env.close()
    dt = time.perf_counter() - t0
    print(f"pil_prep\t{written}\t{bad}\t{dt:.2f}\t{written / dt:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
