# make demo: the whole pipeline, end to end, on a synthetic dataset made here.
#
#   make -f pipelines/demo.mk [BIN=build/bin] [OUT=demo] [VARIABLE=value ...]
#
# alexnet-synth draws ILSVRC-like JPEGs of CLASSES made-up classes (each a kind of shape
# with its own colour and texture in clutter); alexnet-prep turns the training and the
# validation images into LMDBs at SIDE x SIDE; alexnet-stats computes the mean image and
# the colour statistics; alexnet-train trains a narrower network than the paper's (so that
# it learns in minutes on two CPU cores) with the paper's data augmentation, SGD with
# momentum and weight decay, validating after each epoch; alexnet-eval scores it with the
# centre crop and with the ten crops; alexnet-predict labels a few images; curves.sh draws
# the learning curves and alexnet-filters conv1's kernels. Every step is a file target,
# so running it again redoes only what is missing (an interrupted training run resumes
# from its last checkpoint), and what its settings changed: OUT/settings/ holds the
# settings each step was made with (synth, prep, train), and a step whose settings differ
# now runs again with everything after it.
# Steps run one at a time, even under make -j: each tool already uses every core, and the
# echoed steps read in order as a tutorial.
#
# The defaults (16 epochs) take 137 to 151 seconds on the 2 idle cores of the development
# VM (the README has each step) and end with a validation top-1 error of 0.134, far below
# chance (0.95 with 20 classes); EPOCHS=20 takes a quarter longer and ended at 0.07 to
# 0.10. Smaller settings for a quick look:
#   make -f pipelines/demo.mk OUT=/tmp/d CLASSES=4 TRAIN_PER_CLASS=40 VAL_PER_CLASS=10 EPOCHS=2

BIN             ?= build/bin
OUT             ?= demo
CLASSES         ?= 20
TRAIN_PER_CLASS ?= 200
VAL_PER_CLASS   ?= 50
SIZE            ?= 128-160
SIDE            ?= 128
SEED            ?= 1
EPOCHS          ?= 16
BATCH           ?= 32
THREADS         ?= 0
# The paper's layers at a third of their width or less, on 115-pixel crops of 128-pixel
# images: 5 convolutions (two towers), 3 fully connected layers, LRN, overlapping pooling,
# dropout 0.5.
NET    ?= --crop 115 --conv 32,64,96,96,64 --fc 256,256
# The paper's recipe, but for weights drawn with std 0.03 instead of 0.01 (so narrow a
# network starts learning sooner) and a learning rate divided by 10 after half the epochs.
RECIPE ?= --batch $(BATCH) --epochs $(EPOCHS) --lr 0.01 --init-std 0.03 --init-bias 0.1 \
          --lr-policy step --step-epochs $(STEP_EPOCHS) --gamma 0.1 --seed $(SEED)
STEP_EPOCHS ?= $(shell echo $$(( ($(EPOCHS) + 1) / 2 )))

# Idle OpenMP threads sleep at once instead of spinning. The demo's network is small, so a
# step is many short parallel regions; when anything else runs on the machine (another
# session's process takes its share of the cores whatever its nice value, as Linux
# schedules sessions as groups), a thread that spins at the end of each region holds the
# core its partner needs. 40 steps of the demo's training on the 2-core machine under a
# load average of 6 to 8 (other sessions' builds, tests and fuzzing), alternated: 12.3 and
# 12.3 s passive, 79.4 and 42.5 s spinning. OMP_WAIT_POLICY in the environment wins.
export OMP_WAIT_POLICY ?= passive

# DEVICE: cuda when the tools were built with CUDA and a GPU answers, else cpu; DEVICE=cpu
# or DEVICE=cuda forces one. Training, evaluation and prediction run there.
DEVICE ?= $(shell $(BIN)/alexnet-eval --device cuda -m /nonexistent/none.anet --data /nonexistent \
            --stats /nonexistent 2>&1 | grep -q -e 'built without CUDA' -e 'no CUDA device' && echo cpu || echo cuda)

J       = $(if $(filter-out 0,$(THREADS)),-j $(THREADS)) $(if $(filter cuda,$(DEVICE)),--device cuda)
HERE   := $(dir $(lastword $(MAKEFILE_LIST)))
CURVES := $(HERE)curves.sh

.PHONY: all architecture summary
.DELETE_ON_ERROR:
.NOTPARALLEL:

all: architecture summary

# The settings of each step (pipelines/settings.mk): what it makes depends on them.
include $(HERE)settings.mk
SYNTH_SETTINGS := --classes $(CLASSES) --train $(TRAIN_PER_CLASS) --val $(VAL_PER_CLASS) --size $(SIZE) --seed $(SEED)
PREP_SETTINGS  := --resize $(SIDE)
TRAIN_SETTINGS := $(NET) $(RECIPE)
$(OUT)/settings/synth: $(call settings_stale,$(OUT)/settings/synth,$(SYNTH_SETTINGS))
	$(call settings_write,$(SYNTH_SETTINGS))
$(OUT)/settings/prep: $(call settings_stale,$(OUT)/settings/prep,$(PREP_SETTINGS))
	$(call settings_write,$(PREP_SETTINGS))
$(OUT)/settings/train: $(call settings_stale,$(OUT)/settings/train,$(TRAIN_SETTINGS))
	$(call settings_write,$(TRAIN_SETTINGS))

architecture:
	@echo "== The network of Krizhevsky, Sutskever and Hinton (2012): alexnet-info"
	@$(BIN)/alexnet-info
	@echo
	@echo "== The narrower network this demo trains: alexnet-info $(NET)"
	@$(BIN)/alexnet-info --classes $(CLASSES) $(NET) | tail -3
	@echo

$(OUT)/synth/val.txt: $(OUT)/settings/synth
	@echo "== alexnet-synth: $(CLASSES) classes, $(TRAIN_PER_CLASS) training and $(VAL_PER_CLASS) validation JPEGs each"
	$(BIN)/alexnet-synth -q --force --classes $(CLASSES) --train $(TRAIN_PER_CLASS) \
	    --val $(VAL_PER_CLASS) --size $(SIZE) --seed $(SEED) -o $(OUT)/synth > /dev/null

$(OUT)/train.lmdb/data.mdb: $(OUT)/synth/val.txt $(OUT)/settings/prep
	@echo "== alexnet-prep: the training images into an LMDB at $(SIDE)x$(SIDE)"
	$(BIN)/alexnet-prep -q --force --resize $(SIDE) $(OUT)/synth/train -o $(OUT)/train.lmdb > /dev/null

$(OUT)/val.lmdb/data.mdb: $(OUT)/synth/val.txt $(OUT)/settings/prep
	@echo "== alexnet-prep: the validation images"
	$(BIN)/alexnet-prep -q --force --resize $(SIDE) $(OUT)/synth/val -o $(OUT)/val.lmdb > /dev/null

$(OUT)/stats/stats.txt: $(OUT)/train.lmdb/data.mdb
	@echo "== alexnet-stats: the mean image and the colour statistics"
	$(BIN)/alexnet-stats -q --force $(OUT)/train.lmdb -o $(OUT)/stats > /dev/null

# Training writes its metrics to train.tsv.part and renames it when the run is done; a run
# that was stopped (Ctrl-C writes a checkpoint) goes on from its last checkpoint, unless
# it was started before the settings last changed.
$(OUT)/train.tsv: $(OUT)/train.lmdb/data.mdb $(OUT)/val.lmdb/data.mdb $(OUT)/stats/stats.txt $(OUT)/settings/train
	@echo "== alexnet-train: $(EPOCHS) epoch$(if $(filter 1,$(EPOCHS)),,s) on the $(if $(filter cuda,$(DEVICE)),GPU,CPU) (metrics in $@, checkpoints in $(OUT)/run)"
	@if ls $(OUT)/run/ckpt-*.anet > /dev/null 2>&1 && [ $@.part -nt $(OUT)/settings/train ] && \
	    [ $@.part -nt $(OUT)/train.lmdb/data.mdb ]; then \
	    echo "$(BIN)/alexnet-train --resume $(OUT)/run $J >> $@.part"; \
	    $(BIN)/alexnet-train --resume $(OUT)/run $J >> $@.part; \
	else \
	    echo "$(BIN)/alexnet-train --train $(OUT)/train.lmdb --val $(OUT)/val.lmdb --stats $(OUT)/stats -o $(OUT)/run --force $(NET) $(RECIPE) $J > $@.part"; \
	    $(BIN)/alexnet-train --train $(OUT)/train.lmdb --val $(OUT)/val.lmdb --stats $(OUT)/stats \
	        -o $(OUT)/run --force $(NET) $(RECIPE) $J > $@.part; \
	fi
	mv $@.part $@

$(OUT)/eval1.tsv: $(OUT)/train.tsv
	@echo "== alexnet-eval: the best checkpoint, centre crop"
	$(BIN)/alexnet-eval -q $J -m $(OUT)/run/best.anet --data $(OUT)/val.lmdb --stats $(OUT)/stats \
	    --batch $(BATCH) --per-image $(OUT)/per-image.tsv --force > $@

$(OUT)/eval10.tsv: $(OUT)/train.tsv
	@echo "== alexnet-eval: the same with the paper's ten crops"
	$(BIN)/alexnet-eval -q $J -m $(OUT)/run/best.anet --data $(OUT)/val.lmdb --stats $(OUT)/stats \
	    --crops 10 --per-class > $@

# the first validation image of the first three classes
$(OUT)/predict.tsv: $(OUT)/train.tsv
	@echo "== alexnet-predict: a few validation images, by path"
	for d in $$(ls -d $(OUT)/synth/val/*/ | head -3); do ls $$d*.JPEG | head -1; done | \
	    $(BIN)/alexnet-predict $J -m $(OUT)/run/best.anet --stats $(OUT)/stats -k 3 > $@

$(OUT)/curves.png: $(OUT)/train.tsv
	@echo "== curves.sh: the learning curves"
	sh $(CURVES) $(OUT)/train.tsv $@ "alexnet demo: $(CLASSES) synthetic classes"

# the paper's Figure 3 for the demo's network: conv1's kernels, a block a tower
$(OUT)/conv1.png: $(OUT)/train.tsv
	@echo "== alexnet-filters: conv1's kernels (Figure 3)"
	$(BIN)/alexnet-filters -q --force -m $(OUT)/run/best.anet -o $@ --scale 6

summary: architecture $(OUT)/eval1.tsv $(OUT)/eval10.tsv $(OUT)/predict.tsv $(OUT)/curves.png \
         $(OUT)/conv1.png
	@echo
	@echo "== What the network learned ($(CLASSES) classes: chance is a top-1 error of $$(awk 'BEGIN { printf "%.2f", 1 - 1 / $(CLASSES) }'))"
	@awk -F'\t' '!/^#/ { printf "   centre crop: top-1 error %.4f, top-5 error %.4f on %d validation images\n", $$2, $$3, $$1 }' $(OUT)/eval1.tsv
	@awk -F'\t' '/^#class/ { exit } !/^#/ { printf "   ten crops:   top-1 error %.4f, top-5 error %.4f\n", $$2, $$3 }' $(OUT)/eval10.tsv
	@echo "   a few predictions (path, rank, class, wnid, words, probability):"
	@awk -F'\t' '!/^#/ && $$2 == 1 { printf "     %s -> %s (%.3f)\n", $$1, $$4, $$6 }' $(OUT)/predict.tsv
	@echo
	@echo "== Files in $(OUT)/"
	@echo "   train.tsv            metrics of every epoch (alexnet-train's TSV)"
	@echo "   curves.png           loss, errors and learning rate"
	@echo "   conv1.png            conv1's kernels, a block a tower (Figure 3)"
	@echo "   run/best.anet        the checkpoint with the lowest validation error"
	@echo "   eval1.tsv eval10.tsv per-image.tsv predict.tsv   the evaluations"
	@echo "   train.lmdb val.lmdb stats/   the prepared data"
	@echo "   settings/            what each step was made with (a change reruns it)"
	@echo
	@echo "== Next"
	@echo "   $(BIN)/alexnet-info $(OUT)/run/best.anet"
	@printf '%s\n' "   find $(OUT)/synth/val -name '*.JPEG' | $(BIN)/alexnet-predict -m $(OUT)/run/best.anet --stats $(OUT)/stats | sort -t\$$'\\t' -k6 -gr | head"
	@echo "   $(BIN)/alexnet-train --resume $(OUT)/run --epochs $$(( $(EPOCHS) + 8 ))    # eight more epochs"
	@echo "   make -f pipelines/ablations.mk    # the paper's ablations; man -l man/man7/alexnet.7"
