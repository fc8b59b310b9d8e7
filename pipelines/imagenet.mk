# imagenet.mk: the paper's ILSVRC-2012 experiment from the image files to Table 2.
#
#   make -f pipelines/imagenet.mk ILSVRC=/data/ILSVRC2012 OUT=/big/alexnet all
#
# ILSVRC holds the files as ILSVRC distributes them: ILSVRC2012_img_train.tar,
# ILSVRC2012_img_val.tar (50,000 JPEGs, flat) and ILSVRC2012_devkit_t12.tar.gz (the
# validation labels); or already unpacked: train/<wnid>/ and val/ (flat, or a folder a
# class). The validation labels come from, in this order: VAL_LIST (Caffe's val.txt),
# KAGGLE_CSV (Kaggle's LOC_val_solution.csv), val/ in class folders, or the devkit
# (data/ILSVRC2012_validation_ground_truth.txt holds an ILSVRC2012_ID an image, which
# data/meta.mat maps to a WNID: pipelines/ilsvrc-devkit.py, Python 3 and its standard
# library alone, writes them as Caffe's list and the class order as synset_words.txt).
#
# What to compare with (Krizhevsky, Sutskever and Hinton 2012, Table 2, ILSVRC-2012
# validation set, top-1 / top-5 error; the paper's test procedure averages the ten
# patches of §4.1, and it reports the networks as training left them):
#   1 CNN   40.7% / 18.2%     (OUT/eval.tsv, row "1 CNN, 10 crops")
#   5 CNNs  38.1% / 16.4%     (OUT/eval.tsv, row "5 CNNs, 10 crops")
# Those rows evaluate each run's final checkpoint. best.anet, the epoch with the lowest
# error on this same validation set, is reported too (row "1 CNN, 10 crops, best epoch"),
# but choosing it on the images it is then scored on biases its error low: it is not the
# paper's figure. (The plateau schedule also watches this set to lower the learning rate,
# as the paper did.)
#
# Targets (each skips what is already done: the file it makes is its make target):
#   unpack      untar ILSVRC2012_img_train.tar (1000 tars of one class each) into
#               OUT/train/<wnid>/ and ILSVRC2012_img_val.tar into OUT/val/, where ILSVRC
#               has no train/ or val/ of its own; prep-train and prep-val then read them
#   prep-train  OUT/train.lmdb    alexnet-prep of TRAIN_DIR (256x256, raw or ENCODED=yes)
#   prep-val    OUT/val.lmdb      alexnet-prep of VAL_DIR, labelled as above
#   stats       OUT/stats/        mean image and PCA colour statistics of the training set
#   train       OUT/run1/         one network, the paper's recipe (alexnet-train's defaults:
#                                 batch 128, momentum 0.9, decay 0.0005, lr 0.01 divided by 10
#                                 on validation plateaus, EPOCHS epochs, dropout 0.5, PCA
#                                 colour noise 0.1, seed 1); its metrics OUT/run1.tsv and
#                                 curves OUT/run1.png
#   eval        OUT/eval-1cnn-1crop.tsv, OUT/eval-1cnn-10crop.tsv: run1's final checkpoint,
#               centre crop and ten crops; OUT/eval-1cnn-best-10crop.tsv: run1/best.anet
#   ensemble    OUT/runS/ for every seed S of SEEDS, then OUT/eval-ensemble-10crop.tsv (their
#               final checkpoints averaged)
#   all         all of the above and OUT/eval.tsv, the results beside the paper's
#   clean       removes the databases, statistics, evaluations and plots (not the runs,
#               which cost weeks, nor unpacked images); distclean removes all of OUT
# An interrupted run (Ctrl-C, kill, a reboot) is resumed from its newest checkpoint by
# running the same make command again. Paths must not contain spaces.
#
# Settings (OUT/settings/, pipelines/settings.mk): a step whose settings changed runs
# again, with what follows it: the databases when their images, labels or ENCODED change,
# the evaluations when SEEDS do. A larger EPOCHS resumes each finished run to it. A run is
# weeks of work, so one whose TRAIN_OPTS differ from those it started with (OUT/runS.settings)
# is not redone: make stops and says so; remove OUT/runS to train it again.
#
# Disk (1,281,167 training images, 50,000 validation images):
#   archives    ILSVRC2012_img_train.tar about 138 GiB, ILSVRC2012_img_val.tar 6.3 GiB;
#               unpack needs as much again in OUT (it writes out the class tars, then splits
#               each into its folder and deletes it, so the peak is one class more)
#   raw LMDB    a record is 196,608 bytes of pixels (3x256x256) plus 16 bytes of Datum
#               header, stored in 49 pages of 4 KiB (200,810 bytes an image in data.mdb,
#               measured on 500 records): train 252 GB of records, 257 GB on disk; val 9.8 GB
#               of records, 10.0 GB on disk
#   ENCODED=yes JPEG at quality 90 of the 256x256 image: measured on 500 synthetic
#               ILSVRC-like images (alexnet-synth's default 300-500 pixel sides), 15,641 bytes
#               a record and 17,777 bytes an image in data.mdb, i.e. 22.8 GB for train and
#               0.9 GB for val. These synthetic images are smoother than photographs (48 KB
#               against about 110 KB a 500x375 JPEG, BENCHMARKS.md), so plan on more: about
#               27 KB an image, 35 GB for train, as alexnet-prep(1) estimates. The loader
#               decodes them as it reads (8,433 images/s on 2 threads, far above training)
#   statistics  under 1 MB
#   checkpoints about 490 MB each; a run keeps 3 and best.anet, about 2 GB; 5 runs 10 GB
#   in all      raw: about 280 GB plus the images; encoded: about 45 GB plus the images
#
# Time, on the CPU of the 2-core machine of BENCHMARKS.md (make bench there):
#   prep-train  1,247 images/s on synthetic ILSVRC-like JPEGs: 17 minutes for 1,281,167
#               images; photographs decode about a third slower, and writing 257 GB of raw
#               records is bound by the disk's speed
#   stats       61,401 images/s from the page cache; from disk, the time to read the LMDB once
#   train       46.9 images/s (alexnet-train end to end, batch 64, 2 threads; 41-49 across
#               runs): 90 epochs are 1,281,167 x 90 = 115,305,030 images, 115,305,030 / 46.9
#               = 2,458,529 s = 28.5 days; plus a validation pass after each epoch, 50,000
#               images at 106 images/s = 7.9 minutes, 11.8 hours over 90 epochs: about 29 days
#               a run (28-33 days at 49-41 images/s); the ensemble's four more runs, 4 x 29
#               days one after another
#   eval        50,000 images at 106 images/s (centre crop) = 7.9 minutes; at 12.4 images/s
#               (ten crops) = 67 minutes a model (run1's final network, and best.anet), 5.6
#               hours for the five-network ensemble
# On one GPU (DEVICE=cuda, the default when a GPU answers; measured on an NVIDIA H200,
#   BENCHMARKS.md): alexnet-train from a raw LMDB in the page cache at 9,171 images/s in
#   fp32 (11,130 in bf16): 90 epochs are 115,305,030 / 9,171 = 12,573 s = 3.5 hours (2.9 in
#   bf16), if the disk delivers 9,171 x 196,608 bytes = 1.8 GB/s of raw records (an encoded
#   LMDB needs far less, and decoding threads instead). GPUS=0,1 puts the two towers on two
#   GPUs, as in the paper. With several GPUs and no GPUS, run S trains on GPU (the place of
#   S in SEEDS) modulo their count, so `make -j5 ensemble` trains the five networks at once,
#   one a GPU, on five GPUs.

# --- what to run, where ----------------------------------------------------------------
BIN        ?= build/bin
# The root of the ILSVRC-2012 files.
ILSVRC     ?= ILSVRC2012
# The work directory: databases, statistics, runs, evaluations.
OUT        ?= imagenet
# The archives unpack reads, and the devkit.
TRAIN_TAR  ?= $(ILSVRC)/ILSVRC2012_img_train.tar
VAL_TAR    ?= $(ILSVRC)/ILSVRC2012_img_val.tar
DEVKIT     ?= $(firstword $(wildcard $(ILSVRC)/ILSVRC2012_devkit_t12.tar.gz $(ILSVRC)/ILSVRC2012_devkit_t12))
# Training images, one folder a class (n01440764/...): ILSVRC/train when there is one,
# else OUT/train, which unpack fills from TRAIN_TAR.
TRAIN_DIR  ?= $(if $(wildcard $(ILSVRC)/train/.),$(ILSVRC)/train,$(OUT)/train)
# Validation images: ILSVRC/val when there is one, else OUT/val from VAL_TAR. With VAL_LIST
# (Caffe's val.txt, "ILSVRC2012_val_00000001.JPEG 65", from Caffe's
# data/ilsvrc12/get_ilsvrc_aux.sh), KAGGLE_CSV (LOC_val_solution.csv) or the devkit the
# 50,000 files lie flat in VAL_DIR; with none, VAL_DIR holds one folder a class.
VAL_DIR    ?= $(if $(wildcard $(ILSVRC)/val/.),$(ILSVRC)/val,$(OUT)/val)
VAL_LIST   ?=
KAGGLE_CSV ?=
# The class order (synset_words.txt or LOC_synset_mapping.txt; both list the WNIDs sorted,
# the order of Caffe's and Kaggle's labels); found under ILSVRC when not given, else made
# from the devkit when the devkit labels the validation set. VAL_LIST needs it, since its
# labels are indices into it.
SYNSETS    ?= $(firstword $(wildcard $(ILSVRC)/synset_words.txt $(ILSVRC)/LOC_synset_mapping.txt))

# --- how -------------------------------------------------------------------------------
# cpu or cuda: cuda when the tools were built with CUDA and a GPU answers, else cpu.
# GPUS (e.g. 0,1: the paper's two towers on two GPUs) and PRECISION (fp32, tf32 or bf16)
# go to alexnet-train as --gpus and --precision, only with DEVICE=cuda.
ifeq ($(origin DEVICE),undefined)
DEVICE     := $(shell test -x $(BIN)/alexnet-eval && ! $(BIN)/alexnet-eval --device cuda -m /nonexistent/none.anet \
                --data /nonexistent --stats /nonexistent 2>&1 | grep -q -e 'built without CUDA' -e 'no CUDA device' \
                && echo cuda || echo cpu)
endif
GPUS       ?=
PRECISION  ?=
# Compute threads (-j); empty: every core.
THREADS    ?=
# yes: store JPEGs (quality 90) instead of raw pixels, about 35 GB instead of 257 GB.
ENCODED    ?= no
EPOCHS     ?= 90
# The seeds of the ensemble's runs; run1 (the train target) is seed 1.
SEEDS      ?= 1 2 3 4 5
# More alexnet-train options for every run (e.g. --patience 3, --ckpt-every 5000).
TRAIN_OPTS ?=

ifeq ($(filter $(DEVICE),cpu cuda),)
$(error imagenet.mk: DEVICE must be cpu or cuda, not '$(DEVICE)')
endif
ifneq ($(PRECISION),)
ifeq ($(filter $(PRECISION),fp32 tf32 bf16),)
$(error imagenet.mk: PRECISION must be fp32, tf32 or bf16, not '$(PRECISION)')
endif
endif
ifeq ($(filter $(ENCODED),yes no),)
$(error imagenet.mk: ENCODED must be yes or no, not '$(ENCODED)')
endif
ifneq ($(and $(VAL_LIST),$(KAGGLE_CSV)),)
$(error imagenet.mk: give VAL_LIST or KAGGLE_CSV, not both)
endif
ifneq ($(filter 1,$(SEEDS)),1)
$(error imagenet.mk: SEEDS must include 1, the seed of run1, which the ensemble shares)
endif

# Where the validation labels come from (see the top).
VAL_FOLDERS := $(wildcard $(VAL_DIR)/n*/.)
VAL_FROM   := $(if $(VAL_LIST),list,$(if $(KAGGLE_CSV),kaggle,$(if $(VAL_FOLDERS),folders,$(if $(DEVKIT),devkit,none))))
DEVKIT_OUT := $(OUT)/devkit
ifeq ($(VAL_FROM),devkit)
SYNSETS    := $(or $(SYNSETS),$(DEVKIT_OUT)/synsets.txt)
VAL_LIST   := $(DEVKIT_OUT)/val.txt
endif

J          := $(if $(THREADS),-j $(THREADS))
CUDA_ON    := $(filter cuda,$(DEVICE))
# Several GPUs (GPU_COUNT, from nvidia-smi) and no GPUS: a run a GPU, picked by the recipe
# from the place of its seed in SEEDS.
GPU_COUNT  := $(if $(and $(CUDA_ON),$(if $(GPUS),,1)),$(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU'),0)
SPREAD     := $(if $(and $(CUDA_ON),$(if $(GPUS),,1)),$(filter-out 0 1,$(GPU_COUNT)))
DEV_TRAIN  := $(if $(CUDA_ON),--device cuda $(if $(GPUS),--gpus $(GPUS)) $(if $(PRECISION),--precision $(PRECISION)))
DEV_EVAL   := $(if $(CUDA_ON),--device cuda)
SYN        := $(if $(SYNSETS),--synsets $(SYNSETS))
PREP_OPTS  := $(strip $(if $(filter yes,$(ENCODED)),--encoded) $(SYN))
RUN_OPTS   := $(strip $(DEV_TRAIN) $(J))
EVAL_OPTS  := $(strip $(DEV_EVAL) $(J))
VAL_LABELS := $(if $(VAL_LIST),--list $(VAL_LIST),$(if $(KAGGLE_CSV),--kaggle $(KAGGLE_CSV)))
HERE       := $(dir $(lastword $(MAKEFILE_LIST)))
CURVES     := $(HERE)curves.sh
TOOLS      := $(addprefix $(BIN)/alexnet-,prep stats train eval)

TRAIN_DB   := $(OUT)/train.lmdb
VAL_DB     := $(OUT)/val.lmdb
STATS      := $(OUT)/stats
RUNS       := $(foreach s,$(SEEDS),$(OUT)/run$(s).tsv)
# A run's final checkpoint, the newest, as the shell finds it when a recipe runs.
final       = $$(ls $(1)/ckpt-*.anet | sort -V | tail -n 1)

.PHONY: all unpack prep-train prep-val stats train eval ensemble clean distclean
.DELETE_ON_ERROR:

all: eval ensemble $(OUT)/eval.tsv
	@cat $(OUT)/eval.tsv

# --- the settings of each step (pipelines/settings.mk) ---------------------------------
include $(HERE)settings.mk
PREP_TRAIN_SETTINGS := $(PREP_OPTS) $(TRAIN_DIR)
PREP_VAL_SETTINGS   := $(PREP_OPTS) $(VAL_LABELS) $(VAL_DIR)
TRAIN_SETTINGS      := $(strip --lr-policy plateau $(TRAIN_OPTS))
$(OUT)/settings/prep-train: $(call settings_stale,$(OUT)/settings/prep-train,$(PREP_TRAIN_SETTINGS))
	$(call settings_write,$(PREP_TRAIN_SETTINGS))
$(OUT)/settings/prep-val: $(call settings_stale,$(OUT)/settings/prep-val,$(PREP_VAL_SETTINGS))
	$(call settings_write,$(PREP_VAL_SETTINGS))
$(OUT)/settings/train: $(call settings_stale,$(OUT)/settings/train,$(TRAIN_SETTINGS))
	$(call settings_write,$(TRAIN_SETTINGS))
$(OUT)/settings/epochs: $(call settings_stale,$(OUT)/settings/epochs,$(EPOCHS))
	$(call settings_write,$(EPOCHS))
$(OUT)/settings/seeds: $(call settings_stale,$(OUT)/settings/seeds,$(SEEDS))
	$(call settings_write,$(SEEDS))

# A tool that is missing: say how to build it rather than "No rule to make target".
$(TOOLS):
	@echo "imagenet.mk: no $@; build the tools with 'make', or set BIN to where they are" >&2
	@exit 1

# --- unpack: the archives into OUT/train/<wnid>/ and OUT/val/ ---------------------------
unpack: $(if $(filter $(OUT)/train,$(TRAIN_DIR)),$(OUT)/.train-unpacked) \
        $(if $(filter $(OUT)/val,$(VAL_DIR)),$(OUT)/.val-unpacked)

# The outer tar holds n01440764.tar ...; each is split into its folder and deleted, so an
# interrupted unpack goes on with the class tars that are left.
$(OUT)/.train-tars:
	@test -f $(TRAIN_TAR) || { echo "imagenet.mk: cannot open '$(TRAIN_TAR)': set ILSVRC or TRAIN_TAR (or TRAIN_DIR to unpacked images)" >&2; exit 1; }
	mkdir -p $(OUT)/train
	tar -xf $(TRAIN_TAR) -C $(OUT)/train
	touch $@

$(OUT)/.train-unpacked: $(OUT)/.train-tars
	cd $(OUT)/train && for t in n*.tar; do \
	    [ -f "$$t" ] || continue; \
	    mkdir -p "$${t%.tar}" && tar -xf "$$t" -C "$${t%.tar}" && rm -f "$$t" || exit 1; \
	done
	@n=$$(ls -d $(OUT)/train/n*/ | wc -l); echo "imagenet.mk: $$n class folders in $(OUT)/train"; \
	    [ "$$n" -eq 1000 ] || echo "imagenet.mk: warning: ILSVRC-2012 has 1000 classes" >&2
	touch $@

$(OUT)/.val-unpacked:
	@test -f $(VAL_TAR) || { echo "imagenet.mk: cannot open '$(VAL_TAR)': set ILSVRC or VAL_TAR (or VAL_DIR to unpacked images)" >&2; exit 1; }
	mkdir -p $(OUT)/val
	tar -xf $(VAL_TAR) -C $(OUT)/val
	touch $@

# --- the validation labels of the devkit --------------------------------------------------
$(DEVKIT_OUT)/val.txt $(DEVKIT_OUT)/synsets.txt &: $(DEVKIT) $(HERE)ilsvrc-devkit.py
	python3 $(HERE)ilsvrc-devkit.py $(DEVKIT) $(DEVKIT_OUT)

# --- the databases and statistics -----------------------------------------------------
prep-train: $(TRAIN_DB)/data.mdb
prep-val: $(VAL_DB)/data.mdb
stats: $(STATS)/stats.txt

# alexnet-prep builds under a temporary name and renames, so the database is complete or
# absent; its summary line goes to OUT/prep-*.tsv. Unpacked images and a class table made
# from the devkit come first.
TRAIN_INPUTS := $(if $(filter $(OUT)/train,$(TRAIN_DIR)),$(OUT)/.train-unpacked) \
                $(filter $(DEVKIT_OUT)/%,$(SYNSETS))
VAL_INPUTS   := $(if $(filter $(OUT)/val,$(VAL_DIR)),$(OUT)/.val-unpacked) \
                $(filter $(DEVKIT_OUT)/%,$(SYNSETS) $(VAL_LIST))

$(TRAIN_DB)/data.mdb: $(TRAIN_INPUTS) $(OUT)/settings/prep-train | $(BIN)/alexnet-prep
	@test -d $(TRAIN_DIR) || { echo "imagenet.mk: no training images at '$(TRAIN_DIR)': set ILSVRC or TRAIN_DIR (or make unpack)" >&2; exit 1; }
	@mkdir -p $(OUT)
	$(BIN)/alexnet-prep --force $(strip $(J) $(PREP_OPTS) $(TRAIN_DIR)) -o $(TRAIN_DB) > $(OUT)/prep-train.tsv

$(VAL_DB)/data.mdb: $(VAL_INPUTS) $(OUT)/settings/prep-val | $(BIN)/alexnet-prep
	@test -d $(VAL_DIR) || { echo "imagenet.mk: no validation images at '$(VAL_DIR)': set ILSVRC or VAL_DIR" >&2; exit 1; }
	@test "$(VAL_FROM)" != none || test -n "$$(ls -d $(VAL_DIR)/n*/ 2>/dev/null)" || { echo "imagenet.mk: the validation images in '$(VAL_DIR)' lie flat: give DEVKIT (ILSVRC2012_devkit_t12.tar.gz), VAL_LIST (Caffe's val.txt) or KAGGLE_CSV" >&2; exit 1; }
	@test -z "$(VAL_LIST)" || test -n "$(SYNSETS)" || { echo "imagenet.mk: VAL_LIST's labels index the class list: set SYNSETS to synset_words.txt" >&2; exit 1; }
	@mkdir -p $(OUT)
	$(BIN)/alexnet-prep --force $(strip $(J) $(PREP_OPTS) $(VAL_LABELS) $(VAL_DIR)) -o $(VAL_DB) > $(OUT)/prep-val.tsv

$(STATS)/stats.txt: $(TRAIN_DB)/data.mdb | $(BIN)/alexnet-stats
	$(BIN)/alexnet-stats $(strip $(J) $(TRAIN_DB)) -o $(STATS) --force > $(OUT)/stats.tsv

# --- training ---------------------------------------------------------------------------
train: $(OUT)/run1.tsv $(OUT)/run1.png
ensemble: $(RUNS) $(RUNS:.tsv=.png) $(OUT)/eval-ensemble-10crop.tsv

# OUT/runS.tsv appears when run S is finished; until then its metrics grow in
# OUT/runS.tsv.part. A run directory with a checkpoint is resumed (the TSV goes on, with
# the header again; a finished run is resumed to a larger EPOCHS) if it started with the
# TRAIN_OPTS of now (OUT/runS.settings); one without starts afresh.
$(OUT)/run%.tsv: $(TRAIN_DB)/data.mdb $(VAL_DB)/data.mdb $(STATS)/stats.txt $(OUT)/settings/train \
                 $(OUT)/settings/epochs | $(BIN)/alexnet-train
	$(if $(SPREAD),gpu=$$(echo $(SEEDS) | tr ' ' '\n' | awk -v s=$* -v n=$(GPU_COUNT) '$$0 == s { print (NR - 1) % n; exit }'); )if ls $(OUT)/run$*/ckpt-*.anet >/dev/null 2>&1; then \
	    if ! cmp -s $(OUT)/settings/train $(OUT)/run$*.settings; then \
	        echo "imagenet.mk: $(OUT)/run$* was started with other settings ($(OUT)/run$*.settings: '$$(cat $(OUT)/run$*.settings 2>/dev/null)', now '$(TRAIN_SETTINGS)'): remove $(OUT)/run$* to train it again, or set TRAIN_OPTS as it was" >&2; \
	        exit 1; \
	    fi; \
	    if [ -f $@ ] && [ ! -f $@.part ]; then mv $@ $@.part; fi; \
	    $(BIN)/alexnet-train --resume $(OUT)/run$* $(strip --epochs $(EPOCHS) $(RUN_OPTS) $(if $(SPREAD),--gpus $$gpu)) >> $@.part; \
	else \
	    cp $(OUT)/settings/train $(OUT)/run$*.settings && \
	    $(BIN)/alexnet-train --train $(TRAIN_DB) --val $(VAL_DB) --stats $(STATS) -o $(OUT)/run$* --force \
	        $(strip --epochs $(EPOCHS) --lr-policy plateau --seed $* $(RUN_OPTS) $(if $(SPREAD),--gpus $$gpu) $(TRAIN_OPTS)) > $@.part; \
	fi
	mv $@.part $@

$(OUT)/run%.png: $(OUT)/run%.tsv
	sh $(CURVES) -x epoch $< $@ "AlexNet on ILSVRC-2012, seed $*"

# --- evaluation -------------------------------------------------------------------------
eval: $(OUT)/eval-1cnn-1crop.tsv $(OUT)/eval-1cnn-10crop.tsv $(OUT)/eval-1cnn-best-10crop.tsv

# The final network of run1, as the paper reports it.
$(OUT)/eval-1cnn-%crop.tsv: $(OUT)/run1.tsv $(VAL_DB)/data.mdb $(STATS)/stats.txt | $(BIN)/alexnet-eval
	$(BIN)/alexnet-eval -m $(call final,$(OUT)/run1) --data $(VAL_DB) --stats $(STATS) $(strip --crops $* $(EVAL_OPTS)) > $@.tmp
	mv $@.tmp $@

# The epoch that did best on this validation set: chosen on the images it is scored on.
$(OUT)/eval-1cnn-best-10crop.tsv: $(OUT)/run1.tsv $(VAL_DB)/data.mdb $(STATS)/stats.txt | $(BIN)/alexnet-eval
	$(BIN)/alexnet-eval -m $(OUT)/run1/best.anet --data $(VAL_DB) --stats $(STATS) $(strip --crops 10 $(EVAL_OPTS)) > $@.tmp
	mv $@.tmp $@

$(OUT)/eval-ensemble-10crop.tsv: $(RUNS) $(VAL_DB)/data.mdb $(STATS)/stats.txt $(OUT)/settings/seeds | $(BIN)/alexnet-eval
	$(BIN)/alexnet-eval $(foreach s,$(SEEDS),-m $(call final,$(OUT)/run$(s))) --data $(VAL_DB) --stats $(STATS) $(strip --crops 10 $(EVAL_OPTS)) > $@.tmp
	mv $@.tmp $@

# The evaluations in one table, the paper's figures beside those they compare with
# (percent).
$(OUT)/eval.tsv: $(OUT)/eval-1cnn-1crop.tsv $(OUT)/eval-1cnn-10crop.tsv $(OUT)/eval-ensemble-10crop.tsv \
                 $(OUT)/eval-1cnn-best-10crop.tsv
	{ printf '#model\ttop1_err_%%\ttop5_err_%%\tpaper_top1_err_%%\tpaper_top5_err_%%\timages\n'; \
	  awk -F'\t' '!/^#/ { printf "1 CNN, 1 crop\t%.1f\t%.1f\t-\t-\t%d\n", 100 * $$2, 100 * $$3, $$1 }' $(OUT)/eval-1cnn-1crop.tsv; \
	  awk -F'\t' '!/^#/ { printf "1 CNN, 10 crops\t%.1f\t%.1f\t40.7\t18.2\t%d\n", 100 * $$2, 100 * $$3, $$1 }' $(OUT)/eval-1cnn-10crop.tsv; \
	  awk -F'\t' -v n=$(words $(SEEDS)) '!/^#/ { printf "%d CNN%s, 10 crops\t%.1f\t%.1f\t%s\t%s\t%d\n", n, n == 1 ? "" : "s", 100 * $$2, 100 * $$3, n == 5 ? "38.1" : "-", n == 5 ? "16.4" : "-", $$1 }' $(OUT)/eval-ensemble-10crop.tsv; \
	  awk -F'\t' '!/^#/ { printf "1 CNN, 10 crops, best epoch (chosen on this set: biased low)\t%.1f\t%.1f\t-\t-\t%d\n", 100 * $$2, 100 * $$3, $$1 }' $(OUT)/eval-1cnn-best-10crop.tsv; \
	} > $@.tmp
	mv $@.tmp $@

# --- cleaning ---------------------------------------------------------------------------
clean:
	@case "$(OUT)" in '' | / | .) echo "imagenet.mk: refusing to clean OUT='$(OUT)'" >&2; exit 1 ;; esac
	rm -rf $(TRAIN_DB) $(VAL_DB) $(STATS) $(DEVKIT_OUT) $(OUT)/prep-train.tsv $(OUT)/prep-val.tsv $(OUT)/stats.tsv
	rm -f $(OUT)/eval*.tsv $(OUT)/eval*.tmp $(OUT)/run*.png

distclean:
	@case "$(OUT)" in '' | / | .) echo "imagenet.mk: refusing to remove OUT='$(OUT)'" >&2; exit 1 ;; esac
	rm -rf $(OUT)
