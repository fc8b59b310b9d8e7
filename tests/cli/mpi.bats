#!/usr/bin/env bats
# alexnet-train on many processes (mpirun, Open MPI): data parallelism on the CPU against
# one process, the weights of every rank, resuming on another number of ranks, a killed
# rank, a stop signal, a batch that does not divide. The GPU tests (NCCL, one GPU a rank;
# the host-staged sums with two ranks on one GPU) skip without GPUs.

load helper

# The demo's network and recipe (pipelines/demo.mk), on a small synthetic set.
NET=(--crop 115 --conv 32,64,96,96,64 --fc 256,256)
RECIPE=(--batch 8 --lr 0.01 --init-std 0.03 --init-bias 0.1 --lr-policy fixed --seed 1)

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 40 --val 12 --size 128-150 -o synth >/dev/null
    alexnet-prep -q --resize 128 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 128 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }

# Skips unless mpirun is here and the tools were built with MPI.
need_mpi() {
    command -v mpirun >/dev/null || skip "no mpirun (Debian: openmpi-bin)"
    ldd "$ANET_BIN/alexnet-train" | grep -q libmpi || skip "built without MPI"
}

# Open MPI as root (CI) and with more processes than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# mpi N ARGS...: alexnet-train on N processes of this machine.
mpi() {
    local n=$1
    shift
    mpirun -np "$n" alexnet-train "$@"
}

# rank_pid R: the process of rank R of a job run in this test's directory.
rank_pid() {
    local p
    for p in $(pgrep -x alexnet-train); do
        [ "$(readlink /proc/$p/cwd)" = "$TMP" ] || continue
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -q "^OMPI_COMM_WORLD_RANK=$1\$" &&
            echo "$p" && return 0
    done
    return 1
}

train_args() {
    echo --train "$(D train.lmdb)" --val "$(D val.lmdb)" --stats "$(D stats)" -j 1 --log-every 1
}

# losses FILE: the loss column of the train rows; val FILE: the val rows' loss and errors
losses() { awk -F'\t' '$1 == "train" { print $5 }' "$1"; }
vals() { awk -F'\t' '$1 == "val" { print $5, $6, $7 }' "$1"; }

# frozen: the bytes of conv1..conv3 (weights and biases) of safetensors on stdin
frozen() {
    python3 -c '
import json, struct, sys
b = sys.stdin.buffer.read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for k in sorted(h):
    if k.split(".")[0] in ("conv1", "conv2", "conv3"):
        o = h[k]["data_offsets"]
        sys.stdout.buffer.write(b[8 + n + o[0]:8 + n + o[1]])
'
}

# close A B TOL: the same number of lines, each pair within TOL relative
close() {
    paste -d' ' "$1" "$2" | awk -v tol="$3" '
        { n++; d = $1 - $2; if (d < 0) d = -d; s = $2 < 0 ? -$2 : $2; if (s < 1e-12) s = 1e-12
          if (d / s > tol) { print "line " n ": " $1 " vs " $2; bad = 1 } }
        END { exit bad || n == 0 }'
}

@test "mpi: two ranks follow one process over 20 steps: losses within 1e-4, the same validation error, the same weights on every rank at every step" {
    need_mpi
    alexnet-train $(train_args) -o one "${NET[@]}" "${RECIPE[@]}" --max-iter 20 > one.tsv 2>/dev/null
    run_split mpi 2 $(train_args) -o two "${NET[@]}" "${RECIPE[@]}" --max-iter 20 --check-ranks 1
    assert_status 0
    echo "$out" > two.tsv
    assert_contains "$err" "data parallel: MPI_Allreduce (Open MPI"
    assert_contains "$err" "2 processes; a share of 4 images each"
    assert_contains "$err" "every process holds the same weights (checksum"
    assert_contains "$err" "at iteration 20)"
    [ "$(echo "$err" | grep -c 'parameters;')" -eq 1 ] || fail "the other rank was not quiet: $err"
    losses one.tsv > 1.txt
    losses two.tsv > 2.txt
    [ "$(wc -l < 1.txt)" -eq 20 ] || fail "$(cat one.tsv)"
    close 2.txt 1.txt 1e-4 || fail "2 ranks vs 1: $(paste 2.txt 1.txt)"
    vals one.tsv > v1.txt
    vals two.tsv > v2.txt
    [ -s v1.txt ] && [ "$(cut -d' ' -f2- v1.txt)" = "$(cut -d' ' -f2- v2.txt)" ] ||
        fail "validation errors differ: $(paste v1.txt v2.txt)"
    cut -d' ' -f1 v1.txt > l1.txt && cut -d' ' -f1 v2.txt > l2.txt
    close l2.txt l1.txt 1e-4 || fail "validation losses: $(paste l2.txt l1.txt)"
    # rank 0 alone wrote the run: the checkpoint evaluates as the one process's does
    [ "$(ls two | grep -c '^ckpt-')" -ge 1 ] && [ -f two/run.txt ] || fail "$(ls two)"
    for r in one two; do
        alexnet-eval -m $r/ckpt-00000020.anet --data "$(D val.lmdb)" --stats "$(D stats)" -j 1 |
            awk -F'\t' '!/^#/ { print $6 }' > e-$r.txt
    done
    close e-two.txt e-one.txt 1e-4 || fail "eval loss: $(paste e-two.txt e-one.txt)"
}

@test "mpi: --overlap on sums layer by layer during backward and gives the same numbers" {
    need_mpi
    mpi 2 $(train_args) -o a --batch 8 --crop 57 --pool plain --conv 8,16,16,16,16 --fc 32,32 \
        --max-iter 12 --lr-policy fixed > a.tsv 2>/dev/null
    run_split mpi 2 $(train_args) -o b --batch 8 --crop 57 --pool plain --conv 8,16,16,16,16 \
        --fc 32,32 --max-iter 12 --lr-policy fixed --overlap on --check-ranks 1
    assert_status 0
    echo "$out" > b.tsv
    [ "$(losses a.tsv)" = "$(losses b.tsv)" ] || fail "$(paste <(losses a.tsv) <(losses b.tsv))"
    assert_contains "$err" "every process holds the same weights"
}

@test "mpi: fine-tuning on 2 ranks, layers frozen and overlapped or not, a share left empty, follows one process; the frozen layers stay as they were" {
    need_mpi
    # 15 images in batches of 2: the last batch of 1 leaves rank 0's share empty
    alexnet-synth -q --classes 3 --train 5 --val 2 --size 64-80 -o s >/dev/null
    alexnet-prep -q --resize 64 s/train -o t.lmdb >/dev/null
    alexnet-stats -q t.lmdb -o st >/dev/null
    local tiny=(--train t.lmdb --stats st -j 1 --log-every 1 --batch 2 --crop 57 --pool plain
                --conv 8,16,16,16,16 --fc 32,32 --lr-policy fixed)
    alexnet-train "${tiny[@]}" -o base --max-iter 4 > /dev/null 2>&1
    local ft=(--init-from base/ckpt-00000004.anet --freeze conv1..conv3 --lr-mult fc8=10 --epochs 1)
    alexnet-train "${tiny[@]}" "${ft[@]}" -o one > one.tsv 2>/dev/null
    timeout 120 mpirun -np 2 alexnet-train "${tiny[@]}" "${ft[@]}" -o two > two.tsv 2>/dev/null ||
        fail "2 ranks: status $?"
    timeout 120 mpirun -np 2 alexnet-train "${tiny[@]}" "${ft[@]}" --overlap on -o three \
        > three.tsv 2>/dev/null || fail "2 ranks, overlapped: status $?"
    losses one.tsv > 1.txt
    [ "$(wc -l < 1.txt)" -eq 8 ] || fail "$(cat one.tsv)"
    for r in two three; do
        losses $r.tsv > $r.txt
        close $r.txt 1.txt 1e-4 || fail "$r vs one process: $(paste $r.txt 1.txt)"
    done
    for r in base/ckpt-00000004 two/ckpt-00000008 three/ckpt-00000008; do
        alexnet-export -q $r.anet -o ${r%%/*}.safetensors
        frozen < ${r%%/*}.safetensors > ${r%%/*}.frozen
    done
    [ -s base.frozen ] && cmp base.frozen two.frozen && cmp base.frozen three.frozen || fail "a frozen layer moved"
}

@test "mpi: a run moves from 2 ranks to 1 process to 2 ranks through its checkpoints and follows the uninterrupted run" {
    need_mpi
    alexnet-train $(train_args) -o ref "${NET[@]}" "${RECIPE[@]}" --epochs 1 > ref.tsv 2>/dev/null
    mpi 2 $(train_args) -o run "${NET[@]}" "${RECIPE[@]}" --epochs 1 --max-iter 7 > a.tsv 2>/dev/null
    alexnet-train --resume run -j 1 --log-every 1 --max-iter 13 > b.tsv 2>/dev/null
    mpi 2 --resume run -j 1 --log-every 1 > c.tsv 2> c.err ||
        fail "the last leg on 2 ranks: $(cat c.err)"
    assert_contains "$(cat c.err)" "resuming 'run/ckpt-00000013.anet'"
    cat a.tsv b.tsv c.tsv | losses /dev/stdin > got.txt
    losses ref.tsv > want.txt
    [ "$(wc -l < got.txt)" -eq 20 ] || fail "steps: $(cat got.txt)"
    close got.txt want.txt 1e-4 || fail "2 -> 1 -> 2 vs 1: $(paste got.txt want.txt)"
}

@test "mpi: a rank killed with kill -9 ends the job within 60 s, the lost rank named, the last checkpoint intact" {
    need_mpi
    : > log.tsv
    mpirun -np 2 alexnet-train $(train_args) -o run --batch 8 --crop 57 --pool plain \
        --conv 8,16,16,16,16 --fc 32,32 --epochs 100000 --lr-policy fixed > log.tsv 2> log.err &
    pid=$!
    for i in $(seq 300); do
        [ "$(grep -c '^val' log.tsv)" -ge 2 ] && break
        sleep 0.2
    done
    victim=$(rank_pid 1) || { kill -9 "$pid"; fail "no rank 1: $(cat log.err)"; }
    kill -9 "$victim"
    SECONDS=0
    status=0
    wait "$pid" || status=$?
    [ "$SECONDS" -le 60 ] || fail "the job took $SECONDS s to end"
    [ "$status" -ne 0 ] || fail "mpirun exited 0"
    assert_contains "$(cat log.err)" "rank 1"
    last=$(ls run/ckpt-*.anet | tail -1)
    alexnet-info "$last" > /dev/null || fail "'$last' does not load"
    [ -z "$(ls run | grep tmp)" ] || fail "temporary files left: $(ls run)"
}

# stop_job SIGNAL WHOM: a job that trains until WHOM (mpirun, or rank R) gets SIGNAL after 30
# steps; then every rank must have stopped at one step, the stop said once, with its
# checkpoint. (mpirun forwards SIGUSR1 at once; its own SIGTERM reaches the ranks only after
# odls_base_sigkill_timeout, with SIGKILL as long again after it: on a loaded machine a race,
# so SIGTERM goes to a rank here, as Slurm sends it to every task.)
stop_job() {
    local sig=$1 whom=$2 victim i it
    : > log.tsv
    mpirun -np 2 alexnet-train $(train_args) -o run --batch 8 --crop 57 --pool plain \
        --conv 8,16,16,16,16 --fc 32,32 --epochs 100000 --lr-policy fixed > log.tsv 2> log.err &
    pid=$!
    for i in $(seq 300); do
        [ "$(grep -c '^train' log.tsv)" -ge 30 ] && break
        sleep 0.2
    done
    if [ "$whom" = mpirun ]; then
        victim=$pid
    else
        victim=$(rank_pid "$whom") || { kill -9 "$pid"; fail "no rank $whom: $(cat log.err)"; }
    fi
    kill -"$sig" "$victim"
    status=0
    wait "$pid" || status=$?
    [ "$status" -ne 0 ] || fail "mpirun exited 0"
    i=$(grep -c 'stopped by signal' log.err)
    [ "$i" -eq 1 ] || fail "the stop said $i times: $(cat log.err)"
    it=$(sed -n 's/.*stopped by signal [0-9]* at iteration \([0-9]*\).*/\1/p' log.err)
    [ -n "$it" ] || fail "no stop: $(cat log.err)"
    [ -f "run/ckpt-$(printf %08d "$it").anet" ] || fail "no checkpoint of iteration $it: $(ls run)"
    alexnet-info "run/ckpt-$(printf %08d "$it").anet" > /dev/null
    [ "$(tail -1 log.tsv | cut -f3)" -le "$it" ] || fail "a row after the stop: $(tail -1 log.tsv)"
    [ -z "$(ls run | grep tmp)" ] || fail "temporary files left: $(ls run)"
    echo "$it"
}

@test "mpi: SIGTERM to one rank stops every rank at the same step with a checkpoint" {
    need_mpi
    stop_job TERM 1 > it.txt
    assert_contains "$(cat log.err)" "stopped by signal 15 at iteration $(cat it.txt)"
}

@test "mpi: SIGUSR1 to mpirun reaches every rank: they stop at one step with a checkpoint" {
    need_mpi
    stop_job USR1 mpirun > it.txt
    assert_contains "$(cat log.err)" "stopped by signal 10 at iteration $(cat it.txt)"
}

@test "mpi: a batch that does not divide among the ranks is a usage error" {
    need_mpi
    run_split mpi 2 $(train_args) -o run --batch 7 --crop 57 --pool plain --conv 8,16,16,16,16 --fc 32,32
    assert_status 2
    assert_contains "$err" "--batch 7 does not divide among 2 processes"
    [ "$(echo "$err" | grep -c 'does not divide')" -eq 1 ] || fail "said twice: $err"
    [ ! -e run/run.txt ] || fail "run.txt written"
}

@test "mpi: GPUs, a rank each, sum with NCCL and follow one process" {
    need_mpi
    have_gpu || skip "$GPU_WHY"
    [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ] || skip "one GPU: NCCL needs a GPU a rank"
    alexnet-train $(train_args) -o one --device cuda "${NET[@]}" "${RECIPE[@]}" --max-iter 20 > one.tsv 2>/dev/null
    run_split mpi 2 $(train_args) -o two --device cuda "${NET[@]}" "${RECIPE[@]}" --max-iter 20 --check-ranks 1
    assert_status 0
    assert_contains "$err" "NCCL"
    echo "$out" > two.tsv
    losses one.tsv > 1.txt && losses two.tsv > 2.txt
    close 2.txt 1.txt 1e-4 || fail "$(paste 2.txt 1.txt)"
}

@test "mpi: two ranks on one GPU sum through host memory and follow one process" {
    need_mpi
    have_gpu || skip "$GPU_WHY"
    alexnet-train $(train_args) -o one --device cuda "${NET[@]}" "${RECIPE[@]}" --max-iter 20 > one.tsv 2>/dev/null
    CUDA_VISIBLE_DEVICES=0 run_split mpi 2 $(train_args) -o two --device cuda "${NET[@]}" "${RECIPE[@]}" --max-iter 20 --check-ranks 1
    assert_status 0
    assert_contains "$err" "through host memory"
    echo "$out" > two.tsv
    losses one.tsv > 1.txt && losses two.tsv > 2.txt
    close 2.txt 1.txt 1e-4 || fail "$(paste 2.txt 1.txt)"
}
