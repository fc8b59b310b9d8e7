# imagenet.mk: the paper's ILSVRC-2012 experiment from the image files to Table 2.
#
#   make -f pipelines/imagenet.mk ILSVRC=/data/ILSVRC2012 OUT=/big/alexnet all
#
# What to compare with (Krizhevsky, Sutskever and Hinton 2012, Table 2, ILSVRC-2012
# validation set, top-1 / top-5 error; the paper's test procedure averages the ten
# patches of §4.1, so compare the 10-crop rows):
#   1 CNN   40.7% / 18.2%     (OUT/eval.tsv, row "1 CNN, 10 crops")
#   5 CNNs  38.1% / 16.4%     (OUT/eval.tsv, row "5 CNNs, 10 crops")
#
# Targets (each skips what is already done: the file it makes is its make target):
#   unpack      untar ILSVRC2012_img_train.tar (1000 tars of one class each) into
#               OUT/train/<wnid>/ and ILSVRC2012_img_val.tar into OUT/val/; then run the
#               rest with TRAIN_DIR=OUT/train VAL_DIR=OUT/val (and VAL_LIST or KAGGLE_CSV)
#   prep-train  OUT/train.lmdb    alexnet-prep of TRAIN_DIR (256x256, raw or ENCODED=yes)
#   prep-val    OUT/val.lmdb      alexnet-prep of VAL_DIR, labelled by VAL_LIST, KAGGLE_CSV or
#                                 its synset folders
#   stats       OUT/stats/        mean image and PCA colour statistics of the training set
#   train       OUT/run1/         one network, the paper's recipe (alexnet-train's defaults:
#                                 batch 128, momentum 0.9, decay 0.0005, lr 0.01 divided by 10
#                                 on validation plateaus, EPOCHS epochs, dropout 0.5, PCA
#                                 colour noise 0.1, seed 1); its metrics OUT/run1.tsv and
#                                 curves OUT/run1.png
#   eval        OUT/eval-1cnn-1crop.tsv, OUT/eval-1cnn-10crop.tsv: run1/best.anet, centre
#               crop and ten crops
#   ensemble    OUT/runS/ for every seed S of SEEDS, then OUT/eval-ensemble-10crop.tsv
#   all         all of the above and OUT/eval.tsv, the results beside the paper's
#   clean       removes the databases, statistics, evaluations and plots (not the runs,
#               which cost weeks, nor unpacked images); distclean removes all of OUT
# An interrupted run (Ctrl-C, kill, a reboot) is resumed from its newest checkpoint by
# running the same make command again. Paths must not contain spaces.
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
#               (ten crops) = 67 minutes a model, 5.6 hours for the five-network ensemble
# On one GPU (DEVICE=cuda, measured on an NVIDIA H200, BENCHMARKS.md): alexnet-train from
#   a raw LMDB in the page cache at 9,171 images/s in fp32 (11,130 in bf16): 90 epochs are
#   115,305,030 / 9,171 = 12,573 s = 3.5 hours (2.9 in bf16), if the disk delivers 9,171 x
#   196,608 bytes = 1.8 GB/s of raw records (an encoded LMDB needs far less, and decoding
#   threads instead). GPUS=0,1 (the towers on two GPUs) is refused by this release: give
#   one GPU.

# --- what to run, where ----------------------------------------------------------------
BIN        ?= build/bin
# The root of the ILSVRC-2012 files.
ILSVRC     ?= ILSVRC2012
# Training images, one folder a class (n01440764/...).
TRAIN_DIR  ?= $(ILSVRC)/train
# Validation images: with VAL_LIST (Caffe's val.txt, "ILSVRC2012_val_00000001.JPEG 65",
# from Caffe's data/ilsvrc12/get_ilsvrc_aux.sh) or KAGGLE_CSV (LOC_val_solution.csv) the
# 50,000 files lie flat in VAL_DIR; with neither, VAL_DIR holds one folder a class.
VAL_DIR    ?= $(ILSVRC)/val
VAL_LIST   ?=
KAGGLE_CSV ?=
# The class order (synset_words.txt or LOC_synset_mapping.txt; both list the WNIDs sorted,
# the order of Caffe's and Kaggle's labels); found under ILSVRC when not given. VAL_LIST
# needs it, since its labels are indices into it.
SYNSETS    ?= $(firstword $(wildcard $(ILSVRC)/synset_words.txt $(ILSVRC)/LOC_synset_mapping.txt))
# The archives unpack reads.
TRAIN_TAR  ?= $(ILSVRC)/ILSVRC2012_img_train.tar
VAL_TAR    ?= $(ILSVRC)/ILSVRC2012_img_val.tar
# The work directory: databases, statistics, runs, evaluations.
OUT        ?= imagenet

# --- how -------------------------------------------------------------------------------
# cpu or cuda. GPUS (e.g. 0,1: the paper's two towers on two GPUs) and PRECISION (fp32,
# tf32 or bf16) go to alexnet-train as --gpus and --precision, only with DEVICE=cuda.
DEVICE     ?= cpu
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

J          := $(if $(THREADS),-j $(THREADS))
CUDA_ON    := $(filter cuda,$(DEVICE))
DEV_TRAIN  := $(if $(CUDA_ON),--device cuda $(if $(GPUS),--gpus $(GPUS)) $(if $(PRECISION),--precision $(PRECISION)))
DEV_EVAL   := $(if $(CUDA_ON),--device cuda)
SYN        := $(if $(SYNSETS),--synsets $(SYNSETS))
PREP_OPTS  := $(strip $(J) $(if $(filter yes,$(ENCODED)),--encoded) $(SYN))
RUN_OPTS   := $(strip $(DEV_TRAIN) $(J))
EVAL_OPTS  := $(strip $(DEV_EVAL) $(J))
VAL_LABELS := $(if $(VAL_LIST),--list $(VAL_LIST),$(if $(KAGGLE_CSV),--kaggle $(KAGGLE_CSV)))
CURVES     := $(dir $(lastword $(MAKEFILE_LIST)))curves.sh
TOOLS      := $(addprefix $(BIN)/alexnet-,prep stats train eval)

TRAIN_DB   := $(OUT)/train.lmdb
VAL_DB     := $(OUT)/val.lmdb
STATS      := $(OUT)/stats
RUNS       := $(foreach s,$(SEEDS),$(OUT)/run$(s).tsv)

.PHONY: all unpack prep-train prep-val stats train eval ensemble clean distclean
.DELETE_ON_ERROR:

all: eval ensemble $(OUT)/eval.tsv
	@cat $(OUT)/eval.tsv

# A tool that is missing: say how to build it rather than "No rule to make target".
$(TOOLS):
	@echo "imagenet.mk: no $@; build the tools with 'make', or set BIN to where they are" >&2
	@exit 1

# --- unpack: the archives into OUT/train/<wnid>/ and OUT/val/ ---------------------------
unpack: $(OUT)/.train-unpacked $(OUT)/.val-unpacked

# The outer tar holds n01440764.tar ...; each is split into its folder and deleted, so an
# interrupted unpack goes on with the class tars that are left.
$(OUT)/.train-tars:
	@test -f $(TRAIN_TAR) || { echo "imagenet.mk: cannot open '$(TRAIN_TAR)': set ILSVRC or TRAIN_TAR" >&2; exit 1; }
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
	@test -f $(VAL_TAR) || { echo "imagenet.mk: cannot open '$(VAL_TAR)': set ILSVRC or VAL_TAR" >&2; exit 1; }
	mkdir -p $(OUT)/val
	tar -xf $(VAL_TAR) -C $(OUT)/val
	touch $@

# --- the databases and statistics -----------------------------------------------------
prep-train: $(TRAIN_DB)/data.mdb
prep-val: $(VAL_DB)/data.mdb
stats: $(STATS)/stats.txt

# alexnet-prep builds under a temporary name and renames, so the database is complete or
# absent; its summary line goes to OUT/prep-*.tsv.
$(TRAIN_DB)/data.mdb: | $(BIN)/alexnet-prep
	@test -d $(TRAIN_DIR) || { echo "imagenet.mk: no training images at '$(TRAIN_DIR)': set ILSVRC or TRAIN_DIR (or make unpack)" >&2; exit 1; }
	@mkdir -p $(OUT)
	$(BIN)/alexnet-prep $(strip $(PREP_OPTS) $(TRAIN_DIR)) -o $(TRAIN_DB) > $(OUT)/prep-train.tsv

$(VAL_DB)/data.mdb: | $(BIN)/alexnet-prep
	@test -d $(VAL_DIR) || { echo "imagenet.mk: no validation images at '$(VAL_DIR)': set ILSVRC or VAL_DIR" >&2; exit 1; }
	@test -z "$(VAL_LIST)" || test -n "$(SYNSETS)" || { echo "imagenet.mk: VAL_LIST's labels index the class list: set SYNSETS to synset_words.txt" >&2; exit 1; }
	@mkdir -p $(OUT)
	$(BIN)/alexnet-prep $(strip $(PREP_OPTS) $(VAL_LABELS) $(VAL_DIR)) -o $(VAL_DB) > $(OUT)/prep-val.tsv

$(STATS)/stats.txt: $(TRAIN_DB)/data.mdb | $(BIN)/alexnet-stats
	$(BIN)/alexnet-stats $(strip $(J) $(TRAIN_DB)) -o $(STATS) --force > $(OUT)/stats.tsv

# --- training ---------------------------------------------------------------------------
train: $(OUT)/run1.tsv $(OUT)/run1.png
ensemble: $(RUNS) $(RUNS:.tsv=.png) $(OUT)/eval-ensemble-10crop.tsv

# OUT/runS.tsv appears when run S is finished; until then its metrics grow in
# OUT/runS.tsv.part. A run directory with a checkpoint is resumed (the TSV goes on, with
# the header again); one without starts afresh.
$(OUT)/run%.tsv: $(TRAIN_DB)/data.mdb $(VAL_DB)/data.mdb $(STATS)/stats.txt | $(BIN)/alexnet-train
	if ls $(OUT)/run$*/ckpt-*.anet >/dev/null 2>&1; then \
	    $(BIN)/alexnet-train --resume $(OUT)/run$* $(strip --epochs $(EPOCHS) $(RUN_OPTS)) >> $@.part; \
	else \
	    $(BIN)/alexnet-train --train $(TRAIN_DB) --val $(VAL_DB) --stats $(STATS) -o $(OUT)/run$* --force \
	        $(strip --epochs $(EPOCHS) --lr-policy plateau --seed $* $(RUN_OPTS) $(TRAIN_OPTS)) > $@.part; \
	fi
	mv $@.part $@

$(OUT)/run%.png: $(OUT)/run%.tsv
	sh $(CURVES) -x epoch $< $@ "AlexNet on ILSVRC-2012, seed $*"

# --- evaluation -------------------------------------------------------------------------
eval: $(OUT)/eval-1cnn-1crop.tsv $(OUT)/eval-1cnn-10crop.tsv

$(OUT)/eval-1cnn-%crop.tsv: $(OUT)/run1.tsv $(VAL_DB)/data.mdb $(STATS)/stats.txt | $(BIN)/alexnet-eval
	$(BIN)/alexnet-eval -m $(OUT)/run1/best.anet --data $(VAL_DB) --stats $(STATS) $(strip --crops $* $(EVAL_OPTS)) > $@.tmp
	mv $@.tmp $@

$(OUT)/eval-ensemble-10crop.tsv: $(RUNS) $(VAL_DB)/data.mdb $(STATS)/stats.txt | $(BIN)/alexnet-eval
	$(BIN)/alexnet-eval $(foreach s,$(SEEDS),-m $(OUT)/run$(s)/best.anet) --data $(VAL_DB) --stats $(STATS) $(strip --crops 10 $(EVAL_OPTS)) > $@.tmp
	mv $@.tmp $@

# The three evaluations in one table, the paper's figures beside them (percent).
$(OUT)/eval.tsv: $(OUT)/eval-1cnn-1crop.tsv $(OUT)/eval-1cnn-10crop.tsv $(OUT)/eval-ensemble-10crop.tsv
	{ printf '#model\ttop1_err_%%\ttop5_err_%%\tpaper_top1_err_%%\tpaper_top5_err_%%\timages\n'; \
	  awk -F'\t' '!/^#/ { printf "1 CNN, 1 crop\t%.1f\t%.1f\t-\t-\t%d\n", 100 * $$2, 100 * $$3, $$1 }' $(OUT)/eval-1cnn-1crop.tsv; \
	  awk -F'\t' '!/^#/ { printf "1 CNN, 10 crops\t%.1f\t%.1f\t40.7\t18.2\t%d\n", 100 * $$2, 100 * $$3, $$1 }' $(OUT)/eval-1cnn-10crop.tsv; \
	  awk -F'\t' -v n=$(words $(SEEDS)) '!/^#/ { printf "%d CNNs, 10 crops\t%.1f\t%.1f\t%s\t%s\t%d\n", n, 100 * $$2, 100 * $$3, n == 5 ? "38.1" : "-", n == 5 ? "16.4" : "-", $$1 }' $(OUT)/eval-ensemble-10crop.tsv; \
	} > $@.tmp
	mv $@.tmp $@

# --- cleaning ---------------------------------------------------------------------------
clean:
	@case "$(OUT)" in '' | / | .) echo "imagenet.mk: refusing to clean OUT='$(OUT)'" >&2; exit 1 ;; esac
	rm -rf $(TRAIN_DB) $(VAL_DB) $(STATS) $(OUT)/prep-train.tsv $(OUT)/prep-val.tsv $(OUT)/stats.tsv
	rm -f $(OUT)/eval*.tsv $(OUT)/eval*.tmp $(OUT)/run*.png

distclean:
	@case "$(OUT)" in '' | / | .) echo "imagenet.mk: refusing to remove OUT='$(OUT)'" >&2; exit 1 ;; esac
	rm -rf $(OUT)
