#!/bin/sh
# The paper's run on a Slurm cluster, data parallel: one task a GPU, the same binary as on
# one machine, started by srun (Open MPI picks up Slurm's PMI). Submit with
#
#   sbatch --nodes=2 --ntasks-per-node=8 --gpus-per-node=8 pipelines/slurm.sh DATA OUT
#
# DATA holds train.lmdb, val.lmdb and stats/ (pipelines/imagenet.mk makes them) on a file
# system every node sees; OUT is the run directory. A second submission with the same OUT
# resumes the run where it stopped (Slurm sends SIGTERM at the time limit, KillWait before
# SIGKILL: every task stops at the same step and rank 0 writes a checkpoint).
#SBATCH --job-name=alexnet
#SBATCH --time=24:00:00
#SBATCH --signal=TERM@120
set -eu
data=${1:?usage: slurm.sh DATA OUT}
out=${2:?usage: slurm.sh DATA OUT}
bin=${ALEXNET_BIN:-alexnet-train}
if [ -e "$out/run.txt" ]; then
    set -- --resume "$out"
else
    set -- --train "$data/train.lmdb" --val "$data/val.lmdb" --stats "$data/stats" -o "$out"
fi
# each task its GPU: Slurm's --gpus-per-node with one GPU bound to each local task, or
# alexnet-train's own choice by the rank's place on its node (--gpus 0)
exec srun --kill-on-bad-exit=1 "$bin" --device cuda "$@" ${TRAIN_OPTS:-}
