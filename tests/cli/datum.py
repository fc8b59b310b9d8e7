#!/usr/bin/python3
"""An independent reader and writer of Caffe Datum LMDBs for the tests (python3-lmdb and
a few lines of protobuf), so the tools are checked against code that is not theirs.

  datum.py dump DB             key, label, channels, height, width, encoded, bytes,
                               mean B, G, R (raw records), one TSV line a record
  datum.py pixel DB KEY X Y    the B G R values of pixel (X, Y) of a raw record
  datum.py decode DB KEY OUT   write an encoded record's file to OUT
  datum.py digest DB           sha256 of every key and value, in order
  datum.py caffe DB            write a 2-record database the way Caffe's
                               convert_imageset does (raw 3x4x5, labels 7 and 300)
"""
import hashlib, sys
import lmdb


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def datum(buf):
    f, i = {"channels": 0, "height": 0, "width": 0, "data": b"", "label": 0, "encoded": 0}, 0
    names = {1: "channels", 2: "height", 3: "width", 5: "label", 7: "encoded"}
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
            if field == 5 and v >= 1 << 63:
                v -= 1 << 64
            if field in names:
                f[names[field]] = v
        elif wire == 2:
            n, i = varint(buf, i)
            if field == 4:
                f["data"] = bytes(buf[i:i + n])
            i += n
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError("bad wire type %d" % wire)
    return f


def records(path):
    env = lmdb.open(path, readonly=True, lock=False)
    with env.begin() as txn:
        for k, v in txn.cursor():
            yield k.decode(), datum(v)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "dump":
        for k, d in records(path):
            means = ""
            c, h, w = d["channels"], d["height"], d["width"]
            if not d["encoded"] and c == 3:
                plane = h * w
                means = "\t" + "\t".join("%.2f" % (sum(d["data"][p * plane:(p + 1) * plane]) / plane) for p in range(3))
            print("%s\t%d\t%d\t%d\t%d\t%d\t%d%s" % (k, d["label"], c, h, w, d["encoded"], len(d["data"]), means))
    elif cmd == "pixel":
        key, x, y = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        for k, d in records(path):
            if k == key:
                h, w = d["height"], d["width"]
                print(" ".join(str(d["data"][p * h * w + y * w + x]) for p in range(3)))
    elif cmd == "decode":
        for k, d in records(path):
            if k == sys.argv[3]:
                open(sys.argv[4], "wb").write(d["data"])
    elif cmd == "digest":
        h = hashlib.sha256()
        env = lmdb.open(path, readonly=True, lock=False)
        with env.begin() as txn:
            for k, v in txn.cursor():
                h.update(k)
                h.update(v)
        print(h.hexdigest())
    elif cmd == "caffe":
        # caffe.Datum.SerializeToString() for channels=3 height=4 width=5 data label:
        # fields 1, 2, 3 (varints), 4 (bytes), 5 (varint), in field-number order
        env = lmdb.open(path, map_size=1 << 24)
        with env.begin(write=True) as txn:
            for i, label in enumerate((7, 300)):
                data = bytes((p * 7 + i) % 256 for p in range(60))
                rec = b"\x08\x03\x10\x04\x18\x05\x22\x3c" + data + b"\x28" + (b"\x07" if label == 7 else b"\xac\x02")
                txn.put(b"%08d_img%d.jpg" % (i, i), rec)
        env.close()


main()
