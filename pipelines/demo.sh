#!/bin/sh
# make demo: what this release can do, end to end, on the bundled default network.
# 1. The paper's architecture, with parameter and multiply-add counts.
# 2. Ten SGD steps of the paper's network on the CPU fitting one fixed batch of 16 random
#    mean-subtracted images with fixed labels (learning rate 0.0003, since one batch of
#    noise is easy to overshoot at the paper's 0.01): the loss after each, and the speed.
set -eu
build=${1:-build}
echo "== The network of Krizhevsky, Sutskever and Hinton (2012): alexnet-info"
"$build/bin/alexnet-info"
echo
echo "== Ten SGD steps of that network on the CPU, fitting one batch of 16 random images"
"$build/bench/train_step" --batch 16 --warmup 0 --iters 10 --lr 0.0003 --show-loss 2>&1 |
    sed -e 's/^step/  step/' -e '/^#/d' -e 's/^alexnet-c\tfp32\ttrain\t\([0-9]*\)\t\([0-9.]*\)\t.*/  median: \2 images\/s at batch \1/'
echo
echo "Next: 'make check' runs every test; 'make bench' compares the training step with PyTorch;"
echo "'man -l man/man1/alexnet-info.1' explains the table."
