#!/usr/bin/env python3
"""ilsvrc-devkit.py: the ILSVRC-2012 validation labels of the official devkit, as a Caffe
list that alexnet-prep reads.

    pipelines/ilsvrc-devkit.py DEVKIT OUTDIR

DEVKIT is ILSVRC2012_devkit_t12.tar.gz or the directory it unpacks to. Its
data/ILSVRC2012_validation_ground_truth.txt gives, a line an image in the order of the
file names (ILSVRC2012_val_00000001.JPEG, ...), an ILSVRC2012_ID from 1 to 1000; its
data/meta.mat (a MATLAB level 5 MAT-file) maps each ID to a WordNet ID (WNID) in the
struct array "synsets". Writes, each complete or not at all:

    OUTDIR/synsets.txt   the 1000 WNIDs sorted, each with its words (synset_words.txt's
                         order, the class order of Caffe's and Kaggle's labels)
    OUTDIR/val.txt       "ILSVRC2012_val_00000001.JPEG 65": the file and the index of its
                         WNID in synsets.txt (the labels of Caffe's val.txt)

Only the Python standard library is used. Exit status: 0 done; 1 a missing or malformed
input; 2 a usage error.
"""
import os
import struct
import sys
import tarfile
import zlib

GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
META = "data/meta.mat"
CLASSES = 1000

# MAT-file level 5 data types and array classes (MathWorks, "MAT-File Format").
MI_INT8, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32 = 1, 2, 3, 4, 5, 6
MI_SINGLE, MI_DOUBLE, MI_INT64, MI_UINT64 = 7, 9, 12, 13
MI_MATRIX, MI_COMPRESSED, MI_UTF8, MI_UTF16, MI_UTF32 = 14, 15, 16, 17, 18
NUMERIC = {MI_INT8: "b", MI_UINT8: "B", MI_INT16: "h", MI_UINT16: "H", MI_INT32: "i",
           MI_UINT32: "I", MI_SINGLE: "f", MI_DOUBLE: "d", MI_INT64: "q", MI_UINT64: "Q"}
MX_CELL, MX_STRUCT, MX_CHAR = 1, 2, 4


class Bad(Exception):
    pass


class Reader:
    """Data elements from a byte string, in the file's byte order."""

    def __init__(self, data, order, what):
        self.data, self.at, self.order, self.what = data, 0, order, what

    def done(self):
        return self.at >= len(self.data)

    def element(self):
        """(type, payload) of the next element; small elements pack both in 8 bytes."""
        if self.at + 8 > len(self.data):
            raise Bad(f"{self.what}: truncated at byte {self.at}")
        first, second = struct.unpack_from(self.order + "II", self.data, self.at)
        if first >> 16:
            kind, size = first & 0xFFFF, first >> 16
            if size > 4:
                raise Bad(f"{self.what}: a small element of {size} bytes at byte {self.at}")
            payload = self.data[self.at + 4:self.at + 4 + size]
            self.at += 8
            return kind, payload
        kind, size = first, second
        start = self.at + 8
        if start + size > len(self.data):
            raise Bad(f"{self.what}: an element of {size} bytes runs past the end")
        payload = self.data[start:start + size]
        # compressed elements are not padded; the others end on an 8-byte boundary
        self.at = start + size if kind == MI_COMPRESSED else start + (size + 7) // 8 * 8
        return kind, payload


def numbers(kind, payload, order, what):
    code = NUMERIC.get(kind)
    if code is None:
        raise Bad(f"{what}: data of type {kind} where numbers were expected")
    n = len(payload) // struct.calcsize(code)
    return list(struct.unpack_from(order + code * n, payload))


def text(kind, payload, order, what):
    if kind in (MI_UTF8, MI_INT8, MI_UINT8):
        return payload.decode("utf-8", "replace")
    if kind in (MI_UTF16, MI_UINT16, MI_INT16):
        return payload.decode("utf-16-le" if order == "<" else "utf-16-be", "replace")
    if kind == MI_UTF32:
        return payload.decode("utf-32-le" if order == "<" else "utf-32-be", "replace")
    raise Bad(f"{what}: characters of type {kind}")


def matrix(payload, order, what):
    """A miMATRIX payload: (name, value). A value is a list of numbers, a string, a list of
    values (a cell array) or a list of dicts (a struct array), elements in column order."""
    if not payload:
        return "", []
    r = Reader(payload, order, what)
    _, flags = r.element()
    cls = numbers(MI_UINT32, flags, order, what)[0] & 0xFF
    _, dims = r.element()
    count = 1
    for d in numbers(MI_INT32, dims, order, what):
        count *= d
    kind, name = r.element()
    name = name.decode("ascii", "replace")
    if cls == MX_STRUCT:
        _, width = r.element()
        width = numbers(MI_INT32, width, order, what)[0]
        _, raw = r.element()
        if width <= 0 or len(raw) % width:
            raise Bad(f"{what}: struct field names of {len(raw)} bytes in slots of {width}")
        fields = [raw[i:i + width].split(b"\0")[0].decode("ascii", "replace")
                  for i in range(0, len(raw), width)]
        out = []
        for _ in range(count):
            item = {}
            for f in fields:
                k, sub = r.element()
                if k != MI_MATRIX:
                    raise Bad(f"{what}: field '{f}' is of type {k}, not a matrix")
                item[f] = matrix(sub, order, what)[1]
            out.append(item)
        return name, out
    if cls == MX_CELL:
        out = []
        for _ in range(count):
            k, sub = r.element()
            out.append(matrix(sub, order, what)[1] if k == MI_MATRIX else None)
        return name, out
    if r.done():
        return name, []
    kind, real = r.element()
    if cls == MX_CHAR:
        return name, text(kind, real, order, what)
    return name, numbers(kind, real, order, what)


def variables(data, what):
    """Every top-level variable of a MAT-file, by name."""
    if len(data) < 128 or data[:6] != b"MATLAB":
        raise Bad(f"{what}: not a MATLAB level 5 MAT-file")
    order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if order is None:
        raise Bad(f"{what}: unknown byte order mark {data[126:128]!r}")
    found = {}
    pending = [Reader(data[128:], order, what)]
    while pending:
        r = pending.pop()
        while not r.done():
            kind, payload = r.element()
            if kind == MI_COMPRESSED:
                try:
                    pending.append(Reader(zlib.decompress(payload), order, what))
                except zlib.error as e:
                    raise Bad(f"{what}: a compressed element does not inflate: {e}")
            elif kind == MI_MATRIX:
                name, value = matrix(payload, order, what)
                found[name] = value
    return found


def scalar(v):
    return int(v[0]) if isinstance(v, list) and v and not isinstance(v[0], dict) else None


def read_devkit(path):
    """(meta.mat bytes, ground truth text) from the tarball or the directory."""
    if os.path.isdir(path):
        out = []
        for member in (META, GROUND_TRUTH):
            p = os.path.join(path, member)
            try:
                with open(p, "rb") as f:
                    out.append(f.read())
            except OSError as e:
                raise Bad(f"cannot open '{p}': {e.strerror}")
        return out[0], out[1].decode("ascii", "replace")
    try:
        with tarfile.open(path) as t:
            got = {}
            for m in t:
                for member in (META, GROUND_TRUTH):
                    if m.isfile() and (m.name == member or m.name.endswith("/" + member)):
                        got[member] = t.extractfile(m).read()
    except (OSError, tarfile.TarError) as e:
        raise Bad(f"cannot open '{path}': {getattr(e, 'strerror', None) or e}")
    for member in (META, GROUND_TRUTH):
        if member not in got:
            raise Bad(f"'{path}' holds no {member}")
    return got[META], got[GROUND_TRUTH].decode("ascii", "replace")


def write_atomic(path, lines):
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "x") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise Bad(f"cannot write '{path}': {e.strerror}")


def main(argv):
    if len(argv) != 3 or argv[1].startswith("-"):
        print("usage: ilsvrc-devkit.py DEVKIT OUTDIR", file=sys.stderr)
        return 2
    devkit, outdir = argv[1], argv[2]
    meta, truth = read_devkit(devkit)
    synsets = variables(meta, META).get("synsets")
    if not isinstance(synsets, list) or not synsets or not isinstance(synsets[0], dict):
        raise Bad(f"{devkit}: {META} holds no struct array 'synsets'")
    wnid_of, words_of = {}, {}
    for s in synsets:
        sid, wnid = scalar(s.get("ILSVRC2012_ID")), s.get("WNID")
        if sid is not None and 1 <= sid <= CLASSES and isinstance(wnid, str):
            wnid_of[sid] = wnid
            words_of[wnid] = s.get("words") if isinstance(s.get("words"), str) else ""
    if sorted(wnid_of) != list(range(1, CLASSES + 1)) or len(set(wnid_of.values())) != CLASSES:
        raise Bad(f"{devkit}: {META} names {len(wnid_of)} distinct classes with IDs 1..{CLASSES}, "
                  f"not {CLASSES}")
    order = sorted(wnid_of.values())
    index = {w: i for i, w in enumerate(order)}
    val = []
    for n, line in enumerate(truth.split(), 1):
        if not line.isdigit() or int(line) not in wnid_of:
            raise Bad(f"{devkit}: {GROUND_TRUTH}, line {n}: '{line}' is not an ILSVRC2012_ID "
                      f"from 1 to {CLASSES}")
        val.append(f"ILSVRC2012_val_{n:08d}.JPEG {index[wnid_of[int(line)]]}\n")
    if not val:
        raise Bad(f"{devkit}: {GROUND_TRUTH} is empty")
    os.makedirs(outdir, exist_ok=True)
    write_atomic(os.path.join(outdir, "synsets.txt"),
                 [f"{w} {words_of[w]}\n".replace(" \n", "\n") for w in order])
    write_atomic(os.path.join(outdir, "val.txt"), val)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Bad as e:
        print(f"ilsvrc-devkit.py: {e}", file=sys.stderr)
        sys.exit(1)
