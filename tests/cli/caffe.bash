# Shared by import.bats and export.bats: Caffe models made by tests/cli/caffe.py, and the
# comparison of alexnet-predict's probabilities with another forward pass's.

PY=/usr/bin/python3
CAFFE="$BATS_TEST_DIRNAME/caffe.py"

# A narrow model of bvlc_alexnet's layers, its mean, two images and ten class names.
small_model() {
    $PY "$CAFFE" model model.caffemodel weights.npz --seed 1 "$@"
    $PY "$CAFFE" mean mean.binaryproto --seed 2
    $PY "$CAFFE" image a.png --seed 3
    $PY "$CAFFE" image b.png --seed 4
    $PY "$CAFFE" synsets synsets.txt 10
}

# compare A B TOL: the largest difference between the probabilities of two forwards, as
# "path<TAB>p0 p1 ..." lines (B) and alexnet-predict's --format line with every class (A);
# fails unless it is below TOL. With "above" as a fourth argument, unless it is above.
compare() {
    $PY - "$1" "$2" "$3" "${4:-below}" <<'PY'
import sys
def ours(path):
    out = {}
    for line in open(path):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        p = {int(w[1:]): float(v) for w, v in zip(f[1::2], f[2::2])}
        out[f[0]] = [p[i] for i in sorted(p)]
    return out
def theirs(path):
    return {l.split("\t")[0]: [float(v) for v in l.split("\t")[1].split()] for l in open(path)}
a, b, tol, way = ours(sys.argv[1]), theirs(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
assert sorted(a) == sorted(b) and a, (sorted(a), sorted(b))
worst = max(abs(x - y) for k in a for x, y in zip(a[k], b[k]))
print("largest difference %.3g" % worst)
sys.exit(0 if (worst < tol if way == "below" else worst > tol) else 1)
PY
}

ST="$BATS_TEST_DIRNAME/safetensors.py"
