# finetune.mk: a trained network put to other classes, as most users of AlexNet use it.
#
#   make -f pipelines/finetune.mk [BIN=build/bin] [DEMO=demo] [OUT=DEMO/finetune] [VAR=value ...]
#   make -n -f pipelines/finetune.mk              what would run, without running it
#   make -f pipelines/finetune.mk MODEL=m.anet STATS=stats   your own trained model
#
# The model is the demo's (pipelines/demo.mk, made in DEMO when it is missing: 20 synthetic
# classes), or MODEL with its STATS. alexnet-synth draws CLASSES new classes, the
# catalogue's from FIRST_CLASS on (other shapes, fills and sizes than the model's, in the
# hues it knows); alexnet-prep makes their LMDBs at SIDE, the model's image size, and they
# use the model's mean image. alexnet-train --init-from fine-tunes the model to them: its
# network and weights, fc8 drawn afresh for the new classes, FREEZE kept as they are, fc8
# learning LR_MULT faster; the same network trained from scratch with the same recipe and
# steps is the baseline. Then alexnet-features writes the fine-tuned network's LAYER
# vectors of the new training and validation images, alexnet-neighbours each validation
# image's K nearest training images and their contact sheet (the paper's Figure 4), and
# alexnet-filters its conv1 kernels (Figure 3; the demo's own, as conv1 is frozen).
#
# With the demo's model made, the defaults take about 15 s on 2 idle CPU cores and end with
# a validation top-1 error of 0.19 fine-tuned against 0.79 from scratch (BENCHMARKS.md);
# smaller:
#   make -f pipelines/finetune.mk OUT=/tmp/f CLASSES=4 TRAIN_PER_CLASS=40 EPOCHS=2

BIN             ?= build/bin
DEMO            ?= demo
OUT             ?= $(DEMO)/finetune
MODEL           ?= $(DEMO)/run/best.anet
STATS           ?= $(DEMO)/stats
# the demo's settings, for the model when it must be made and for the baseline's network
DEMO_CLASSES    ?= 20
NET             ?= --crop 115 --conv 32,64,96,96,64 --fc 256,256
DEMO_VARS       ?=
CLASSES         ?= 10
FIRST_CLASS     ?= $(shell echo $$(( $(DEMO_CLASSES) + 1 )))
TRAIN_PER_CLASS ?= 60
VAL_PER_CLASS   ?= 30
SIZE            ?= 128-160
SIDE            ?= 128
SEED            ?= 1
EPOCHS          ?= 3
BATCH           ?= 32
THREADS         ?= 0
FREEZE          ?= conv1..conv5
LR_MULT         ?= fc8=10
RECIPE          ?= --batch $(BATCH) --epochs $(EPOCHS) --lr 0.01 --lr-policy fixed --seed $(SEED)
# the baseline starts as the demo's network did
SCRATCH_INIT    ?= --init-std 0.03 --init-bias 0.1
LAYER           ?= fc7
K               ?= 6
SHEET_ROWS      ?= 5

DEVICE ?= $(shell $(BIN)/alexnet-eval --device cuda -m /nonexistent/none.anet --data /nonexistent \
            --stats /nonexistent 2>&1 | grep -q -e 'built without CUDA' -e 'no CUDA device' && echo cpu || echo cuda)
J       = $(if $(filter-out 0,$(THREADS)),-j $(THREADS)) $(if $(filter cuda,$(DEVICE)),--device cuda)
DEMO_MK = $(dir $(lastword $(MAKEFILE_LIST)))demo.mk
DATA    = --train $(OUT)/train.lmdb --val $(OUT)/val.lmdb --stats $(STATS)

.PHONY: all summary
.DELETE_ON_ERROR:

all: summary

$(DEMO)/run/best.anet:
	@echo "== the demo's trained model (pipelines/demo.mk; OUT=$(DEMO))"
	$(MAKE) --no-print-directory -f $(DEMO_MK) BIN=$(BIN) OUT=$(DEMO) CLASSES=$(DEMO_CLASSES) \
	    THREADS=$(THREADS) "NET=$(NET)" $(DEMO_VARS) $(DEMO)/train.tsv

$(OUT)/synth/val.txt:
	@echo "== alexnet-synth: $(CLASSES) new classes, the catalogue's from $(FIRST_CLASS) on"
	$(BIN)/alexnet-synth -q --force --classes $(CLASSES) --first-class $(FIRST_CLASS) \
	    --train $(TRAIN_PER_CLASS) --val $(VAL_PER_CLASS) --size $(SIZE) --seed $(SEED) \
	    -o $(OUT)/synth > /dev/null

$(OUT)/train.lmdb/data.mdb: $(OUT)/synth/val.txt
	@echo "== alexnet-prep: their training and validation images at $(SIDE)x$(SIDE)"
	$(BIN)/alexnet-prep -q --force --resize $(SIDE) $(OUT)/synth/train -o $(OUT)/train.lmdb > /dev/null

$(OUT)/val.lmdb/data.mdb: $(OUT)/synth/val.txt
	$(BIN)/alexnet-prep -q --force --resize $(SIDE) $(OUT)/synth/val -o $(OUT)/val.lmdb > /dev/null

$(OUT)/finetune.tsv: $(MODEL) $(OUT)/train.lmdb/data.mdb $(OUT)/val.lmdb/data.mdb
	@echo "== alexnet-train --init-from: the model fine-tuned to the new classes ($(FREEZE) frozen, $(LR_MULT))"
	$(BIN)/alexnet-train -q --init-from $(MODEL) --freeze $(FREEZE) --lr-mult $(LR_MULT) \
	    $(DATA) -o $(OUT)/run --force $(RECIPE) $J > $@.part
	mv $@.part $@

$(OUT)/scratch.tsv: $(MODEL) $(OUT)/train.lmdb/data.mdb $(OUT)/val.lmdb/data.mdb
	@echo "== alexnet-train: the same network from scratch, the same recipe and steps"
	$(BIN)/alexnet-train -q $(NET) $(SCRATCH_INIT) $(DATA) -o $(OUT)/scratch --force $(RECIPE) $J > $@.part
	mv $@.part $@

$(OUT)/train-$(LAYER).npy: $(OUT)/finetune.tsv
	@echo "== alexnet-features: $(LAYER) of the new training and validation images"
	$(BIN)/alexnet-features -q --force $J -m $(OUT)/run/best.anet --stats $(STATS) --layer $(LAYER) \
	    --data $(OUT)/train.lmdb -o $@

$(OUT)/val-$(LAYER).npy: $(OUT)/finetune.tsv
	$(BIN)/alexnet-features -q --force $J -m $(OUT)/run/best.anet --stats $(STATS) --layer $(LAYER) \
	    --data $(OUT)/val.lmdb -o $@

$(OUT)/neighbours.tsv: $(OUT)/train-$(LAYER).npy $(OUT)/val-$(LAYER).npy
	@echo "== alexnet-neighbours: each validation image's $(K) nearest training images (Figure 4)"
	$(BIN)/alexnet-neighbours -q $(if $(filter-out 0,$(THREADS)),-j $(THREADS)) \
	    --index $(OUT)/train-$(LAYER).npy --keys $(OUT)/train-$(LAYER).keys.tsv --data $(OUT)/train.lmdb \
	    --query $(OUT)/val-$(LAYER).npy --query-keys $(OUT)/val-$(LAYER).keys.tsv --query-data $(OUT)/val.lmdb \
	    -k $(K) --sheet $(OUT)/neighbours.png --sheet-rows $(SHEET_ROWS) --force > $@.part
	mv $@.part $@

$(OUT)/conv1.png: $(OUT)/finetune.tsv
	@echo "== alexnet-filters: conv1's kernels (Figure 3)"
	$(BIN)/alexnet-filters -q --force -m $(OUT)/run/best.anet -o $@ --scale 6

summary: $(OUT)/finetune.tsv $(OUT)/scratch.tsv $(OUT)/neighbours.tsv $(OUT)/conv1.png
	@echo
	@echo "== $(CLASSES) new classes (chance is a top-1 error of $$(awk 'BEGIN { printf "%.2f", 1 - 1 / $(CLASSES) }')), after the same $$(awk -F'\t' '$$1 == "val" { i = $$3 } END { print i }' $(OUT)/finetune.tsv) steps"
	@awk -F'\t' '$$1 == "val" { e = $$6 } END { printf "   fine-tuned:   validation top-1 error %.4f\n", e }' $(OUT)/finetune.tsv
	@awk -F'\t' '$$1 == "val" { e = $$6 } END { printf "   from scratch: validation top-1 error %.4f\n", e }' $(OUT)/scratch.tsv
	@awk -F'\t' '!/^#/ && $$2 == 1 { n++; q = $$1; m = $$3; sub(/^[0-9]+_/, "", q); sub(/^[0-9]+_/, "", m); sub(/\/.*/, "", q); sub(/\/.*/, "", m); same += q == m } END { printf "   nearest training image of the same class: %d of %d validation images\n", same, n }' $(OUT)/neighbours.tsv
	@echo
	@echo "== Files in $(OUT)/"
	@echo "   finetune.tsv scratch.tsv   the two runs' metrics; run/best.anet the fine-tuned model"
	@echo "   train-$(LAYER).npy val-$(LAYER).npy (and .keys.tsv)   its $(LAYER) vectors"
	@echo "   neighbours.tsv neighbours.png   nearest training images (Figure 4)"
	@echo "   conv1.png            conv1's kernels (Figure 3)"
