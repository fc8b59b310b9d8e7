# ablations.mk: the paper's ablation claims as experiments, each a baseline against one
# change with everything else (data, seed, epochs, recipe) equal.
#
#   make -f pipelines/ablations.mk all            every experiment, then OUT/summary.tsv
#   make -f pipelines/ablations.mk lrn            one experiment (OUT/lrn/)
#   make -n -f pipelines/ablations.mk all         what would run, without running it
#   make -f pipelines/ablations.mk TRAIN=t.lmdb VAL=v.lmdb STATS=stats all   your own data
#
# The experiments and what the paper reports for each (ILSVRC, or CIFAR-10 for Figure 1):
#   relu-vs-tanh  ReLU against tanh: a four-layer ReLU network reaches 25% training error on
#                 CIFAR-10 six times faster than the same network with tanh (§3.1, Figure 1;
#                 no regularisation, learning rates chosen for each network). Measured here:
#                 the iterations each arm takes before its training top-1 error, averaged
#                 over the last WINDOW images, first falls to THRESHOLD. Both arms train
#                 without dropout and colour noise, as in the paper's comparison. With
#                 the shared initial weights (INIT_STD on pixels in 0..255 units) tanh
#                 saturates from conv1 on and the default tanh arm does not learn; the
#                 paper tuned each network, and TANH_INIT_STD=0.1 (or TANH_LR) gives the
#                 tanh arm its own.
#   lrn           local response normalisation on against off: -1.4% top-1, -1.2% top-5 (§3.3)
#   pooling       overlapping max-pooling (3x3, stride 2) against plain (2x2, stride 2):
#                 -0.4% top-1, -0.3% top-5 (§3.4)
#   color-noise   PCA colour noise (sigma 0.1) against none: over 1% top-1 (§4.1)
#   dropout       dropout 0.5 on fc6 and fc7 against none: without it the network overfits
#                 substantially (§4.2); compare the gap between training and validation error
#   towers        two towers against one: -1.7% top-1, -1.2% top-5 against one tower with half
#                 the kernels in each convolutional layer but the last (§3.2 and its footnote:
#                 the last stays whole so the parameter counts are close); TOWER1_CONV sets
#                 the one-tower widths, half of CONV but conv5 by default (--towers 1 with
#                 CONV itself keeps the total width and only drops the grouping)
#
# A tiny synthetic dataset will not reproduce ImageNet's magnitudes: by default this makes
# its own (SYNTH_CLASSES classes of alexnet-synth at 72-96 pixels) and trains a narrow
# network on it for seconds an arm, so each experiment shows the mechanics and the
# direction where the effect is robust. One seed on 500 validation images can move an arm
# by several points: SEED=2, 3, ... (with another OUT) show the spread. Point TRAIN, VAL
# and STATS at prepared databases (alexnet-prep, alexnet-stats) and widen the network
# (CROP, CONV, FC_NEURONS) for a real test.
#
# On an idle 2-core machine `all` takes about 80 s (the narrow network trains at about
# 7,000 images/s; 12 arms of 40 epochs of 1,000 images). Arms with the same settings (the
# baselines of lrn, pooling, color-noise, dropout and towers) give the same numbers: a run
# is a function of its settings, seed and thread count.
#
# Each experiment writes, under OUT/<experiment>/:
#   <arm>.tsv     alexnet-train's metrics (a "#settings" comment line first), <arm>/ its run
#   summary.tsv   a row an arm: experiment, arm, final validation top-1 and top-5 error, best
#                 validation top-1 error, training top-1 error over the last epoch, the
#                 iterations to THRESHOLD ("-" if never reached), THRESHOLD, training images
#                 a second, and the arm's alexnet-train settings
#   <exp>.png     both arms' curves on one plot (pipelines/curves.sh -c)
# and `all` writes OUT/summary.tsv, every experiment's rows under one header. Re-running
# skips what is done, and redoes what other settings would make differently: an arm whose
# "#settings" line differs from its settings now, the synthetic data when SYNTH_* or RESIZE
# changed (OUT/data/settings/), the summaries and plots when THRESHOLD or WINDOW did
# (OUT/settings/summary). `clean` removes OUT (the synthetic data too).

# --- where -----------------------------------------------------------------------------
BIN        ?= build/bin
OUT        ?= ablations
CURVES     := $(dir $(lastword $(MAKEFILE_LIST)))curves.sh

# The synthetic default dataset, made in OUT/data when TRAIN, VAL and STATS are not given.
SYNTH_CLASSES ?= 10
SYNTH_TRAIN   ?= 100
SYNTH_VAL     ?= 50
SYNTH_SIZE    ?= 72-96
SYNTH_SEED    ?= 3
RESIZE        ?= 72
DATA       := $(OUT)/data
TRAIN      ?= $(DATA)/train.lmdb
VAL        ?= $(DATA)/val.lmdb
STATS      ?= $(DATA)/stats

# --- the network and recipe every arm shares -------------------------------------------
# A narrow network of the paper's shape (67-pixel crops of 72-pixel images), and settings
# that make it learn in seconds: the paper's N(0, 0.01) and biases of 1 are too small and
# too large for so narrow a network to start learning soon.
CROP       ?= 67
CONV       ?= 16,32,32,32,32
FC_NEURONS ?= 64,64
TOWER1_CONV ?= $(shell echo '$(CONV)' | awk -F, '{ printf "%d,%d,%d,%d,%d", $$1 / 2, $$2 / 2, $$3 / 2, $$4 / 2, $$5 }')
BATCH      ?= 16
EPOCHS     ?= 40
LR         ?= 0.02
LR_POLICY  ?= step
STEP_EPOCHS ?= 15
GAMMA      ?= 0.3
INIT_STD   ?= 0.05
INIT_BIAS  ?= 0.1
SEED       ?= 1
# Compute threads (-j); empty: every core.
THREADS    ?=
# Idle OpenMP threads sleep at once: these networks are small, and on cores that other
# processes share, spinning threads slow each step several times (pipelines/demo.mk has
# the measurement). OMP_WAIT_POLICY in the environment wins.
export OMP_WAIT_POLICY ?= passive
# A training row every LOG_EVERY steps: small, so the threshold is found to the step.
LOG_EVERY  ?= 1
# relu-vs-tanh: the training top-1 error to reach, averaged over the last WINDOW images.
# The paper's is 0.25 on CIFAR-10; on the default dataset's 10 classes chance is 0.9.
THRESHOLD  ?= 0.6
WINDOW     ?= 160
# The paper tuned each network's learning rate; these let the tanh arm have its own.
TANH_LR    ?= $(LR)
TANH_INIT_STD ?= $(INIT_STD)
# The baseline's knobs (the paper's network), which each experiment varies one at a time.
# Dropout is off in the other experiments' arms: the small network's fc layers of 64 learn
# slowly with it; DROPOUT=0.5 gives the paper's baseline.
ACT        ?= relu
LRN        ?= on
POOL       ?= overlap
COLOR_NOISE ?= 0.1
DROPOUT    ?= 0
TOWERS     ?= 2
# The values the colour-noise and dropout experiments turn on.
NOISE_ON   ?= 0.1
DROPOUT_ON ?= 0.5
# More alexnet-train options for every arm.
EXTRA      ?=

EXPERIMENTS := relu-vs-tanh lrn pooling color-noise dropout towers

# --- the arms --------------------------------------------------------------------------
# Each arm is a file OUT/<exp>/<arm>.tsv whose target-specific variables (a_*) say what
# differs from the baseline.
a_act      = $(ACT)
a_lrn      = $(LRN)
a_pool     = $(POOL)
a_noise    = $(COLOR_NOISE)
a_dropout  = $(DROPOUT)
a_towers   = $(TOWERS)
a_conv     = $(CONV)
a_lr       = $(LR)
a_init_std = $(INIT_STD)

ARMS_relu-vs-tanh := relu tanh
$(OUT)/relu-vs-tanh/%.tsv: a_noise = 0
$(OUT)/relu-vs-tanh/%.tsv: a_dropout = 0
$(OUT)/relu-vs-tanh/relu.tsv: a_act = relu
$(OUT)/relu-vs-tanh/tanh.tsv: a_act = tanh
$(OUT)/relu-vs-tanh/tanh.tsv: a_lr = $(TANH_LR)
$(OUT)/relu-vs-tanh/tanh.tsv: a_init_std = $(TANH_INIT_STD)
TITLE_relu-vs-tanh := ReLU against tanh: iterations to a training error (paper: 6x faster, Sec. 3.1, Fig. 1)

ARMS_lrn := lrn no-lrn
$(OUT)/lrn/lrn.tsv: a_lrn = on
$(OUT)/lrn/no-lrn.tsv: a_lrn = off
TITLE_lrn := Local response normalisation on and off (paper: -1.4% top-1, -1.2% top-5, Sec. 3.3)

ARMS_pooling := overlap plain
$(OUT)/pooling/overlap.tsv: a_pool = overlap
$(OUT)/pooling/plain.tsv: a_pool = plain
TITLE_pooling := Overlapping 3/2 against plain 2/2 max-pooling (paper: -0.4% top-1, -0.3% top-5, Sec. 3.4)

ARMS_color-noise := noise no-noise
$(OUT)/color-noise/noise.tsv: a_noise = $(NOISE_ON)
$(OUT)/color-noise/no-noise.tsv: a_noise = 0
TITLE_color-noise := PCA colour noise on and off (paper: over 1% top-1, Sec. 4.1)

ARMS_dropout := dropout no-dropout
$(OUT)/dropout/dropout.tsv: a_dropout = $(DROPOUT_ON)
$(OUT)/dropout/no-dropout.tsv: a_dropout = 0
TITLE_dropout := Dropout on fc6 and fc7 on and off (paper: substantial overfitting without, Sec. 4.2)

ARMS_towers := two-towers one-tower
$(OUT)/towers/two-towers.tsv: a_towers = 2
$(OUT)/towers/two-towers.tsv: a_conv = $(CONV)
$(OUT)/towers/one-tower.tsv: a_towers = 1
$(OUT)/towers/one-tower.tsv: a_conv = $(TOWER1_CONV)
TITLE_towers := Two towers against one with half the kernels (paper: -1.7% top-1, -1.2% top-5, Sec. 3.2)

# The settings of an arm, recorded in its TSV and summary row.
ARM_OPTS = --act $(a_act) --lrn $(a_lrn) --pool $(a_pool) --color-noise $(a_noise) \
    --dropout $(a_dropout) --towers $(a_towers) --conv $(a_conv) --fc $(FC_NEURONS) --crop $(CROP) \
    --batch $(BATCH) --epochs $(EPOCHS) --lr $(a_lr) --lr-policy $(LR_POLICY) \
    $(if $(filter step,$(LR_POLICY)),--step-epochs $(STEP_EPOCHS) --gamma $(GAMMA)) \
    --init-std $(a_init_std) --init-bias $(INIT_BIAS) --seed $(SEED) $(EXTRA)

ARM_TSVS   := $(foreach e,$(EXPERIMENTS),$(foreach a,$(ARMS_$(e)),$(OUT)/$(e)/$(a).tsv))
DATA_DEPS  := $(TRAIN)/data.mdb $(VAL)/data.mdb $(STATS)/stats.txt

.PHONY: all data clean $(EXPERIMENTS)
.DELETE_ON_ERROR:
# Prerequisites may name the target ($$@) and the stem ($$*): an experiment's arms.
.SECONDEXPANSION:

# Settings stamps (pipelines/settings.mk).
include $(dir $(lastword $(MAKEFILE_LIST)))settings.mk
SYNTH_SETTINGS   := --classes $(SYNTH_CLASSES) --train $(SYNTH_TRAIN) --val $(SYNTH_VAL) --size $(SYNTH_SIZE) --seed $(SYNTH_SEED)
PREP_SETTINGS    := --resize $(RESIZE)
SUMMARY_SETTINGS := THRESHOLD=$(THRESHOLD) WINDOW=$(WINDOW)
# An arm is stale when the "#settings" line its TSV starts with is not its ARM_OPTS now
# (read in the arm's own context, where its a_* variables hold).
arm_stale = $(if $(call settings_same,$(shell sed -n '1s/^\#settings\t//p' $(1) 2>/dev/null),$(strip $(ARM_OPTS))),,.settings-changed)

all: $(OUT)/summary.tsv
	@cat $(OUT)/summary.tsv

$(EXPERIMENTS): $(OUT)/$$@/summary.tsv $(OUT)/$$@/$$@.png
	@cat $(OUT)/$@/summary.tsv

# A tool that is missing: say how to build it rather than "No rule to make target".
$(BIN)/alexnet-%:
	@echo "ablations.mk: no $@; build the tools with 'make', or set BIN to where they are" >&2
	@exit 1

# --- the synthetic default dataset ----------------------------------------------------
data: $(DATA_DEPS)

$(DATA)/settings/synth: $(call settings_stale,$(DATA)/settings/synth,$(SYNTH_SETTINGS))
	$(call settings_write,$(SYNTH_SETTINGS))
$(DATA)/settings/prep: $(call settings_stale,$(DATA)/settings/prep,$(PREP_SETTINGS))
	$(call settings_write,$(PREP_SETTINGS))
$(OUT)/settings/summary: $(call settings_stale,$(OUT)/settings/summary,$(SUMMARY_SETTINGS))
	$(call settings_write,$(SUMMARY_SETTINGS))

$(DATA)/synth/synset_words.txt: $(DATA)/settings/synth | $(BIN)/alexnet-synth
	@mkdir -p $(DATA)
	$(BIN)/alexnet-synth -q --force --classes $(SYNTH_CLASSES) --train $(SYNTH_TRAIN) \
	    --val $(SYNTH_VAL) --size $(SYNTH_SIZE) --seed $(SYNTH_SEED) -o $(DATA)/synth > $(DATA)/synth.tsv

$(DATA)/train.lmdb/data.mdb: $(DATA)/synth/synset_words.txt $(DATA)/settings/prep | $(BIN)/alexnet-prep
	$(BIN)/alexnet-prep -q --force --resize $(RESIZE) $(DATA)/synth/train -o $(DATA)/train.lmdb > $(DATA)/prep-train.tsv

$(DATA)/val.lmdb/data.mdb: $(DATA)/synth/synset_words.txt $(DATA)/settings/prep | $(BIN)/alexnet-prep
	$(BIN)/alexnet-prep -q --force --resize $(RESIZE) --list $(DATA)/synth/val.txt \
	    --synsets $(DATA)/synth/synset_words.txt $(DATA)/synth/val -o $(DATA)/val.lmdb > $(DATA)/prep-val.tsv

$(DATA)/stats/stats.txt: $(DATA)/train.lmdb/data.mdb | $(BIN)/alexnet-stats
	$(BIN)/alexnet-stats -q --force $(DATA)/train.lmdb -o $(DATA)/stats > $(DATA)/stats.tsv

# Databases given through TRAIN, VAL or STATS that are not there.
%/data.mdb:
	@echo "ablations.mk: no database '$*' (no $@): set TRAIN, VAL and STATS to prepared ones, or leave them unset for the synthetic default" >&2
	@exit 1
%/stats.txt:
	@echo "ablations.mk: no statistics in '$*' (no $@): set STATS to a directory made by alexnet-stats" >&2
	@exit 1

# --- training an arm ---------------------------------------------------------------------
$(ARM_TSVS): $(DATA_DEPS) $$(call arm_stale,$$@) | $(BIN)/alexnet-train
	@mkdir -p $(@D)
	printf '#settings\t%s\n' '$(strip $(ARM_OPTS))' > $@.tmp
	$(BIN)/alexnet-train -q --train $(TRAIN) --val $(VAL) --stats $(STATS) -o $(basename $@) --force \
	    $(strip $(ARM_OPTS) --log-every $(LOG_EVERY) $(if $(THREADS),-j $(THREADS))) >> $@.tmp
	mv $@.tmp $@

# --- an experiment's summary and plot -----------------------------------------------------
# One row an arm from its TSV; d is the images a train row covers. Iterations to the
# threshold: the first train row at which the rows that make up the last WINDOW images
# average a top-1 error of at most THRESHOLD.
SUMMARY_AWK = \
    function dash(v) { return v == "" ? "-" : v } \
    function flush() { \
        if (arm == "") return; \
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, arm, \
            dash(vt1), dash(vt5), dash(best), (ld > 0 ? sprintf("%.4f", le / ld) : "-"), dash(hit), \
            thr, (tt > 0 ? sprintf("%.1f", ti / tt) : "-"), settings; \
    } \
    FNR == 1 { \
        flush(); arm = FILENAME; sub(/.*\//, "", arm); sub(/\.tsv$$/, "", arm); \
        vt1 = vt5 = best = hit = settings = ""; prev = ld = le = ti = tt = k = first = sd = se = 0; lastep = -1; \
    } \
    $$1 == "\#settings" { settings = $$2; next } \
    /^\#/ { next } \
    $$1 == "val" { vt1 = $$6; vt5 = $$7; if (best == "" || $$6 + 0 < best + 0) best = $$6; next } \
    $$1 == "train" { \
        d = $$4 - prev; prev = $$4; if (d <= 0) next; \
        if ($$2 != lastep) { lastep = $$2; ld = le = 0 } \
        ld += d; le += $$6 * d; \
        if ($$9 > 0) { ti += d; tt += d / $$9 } \
        k++; wd[k] = d; we[k] = $$6 * d; sd += d; se += we[k]; \
        while (first < k - 1 && sd - wd[first + 1] >= win) { first++; sd -= wd[first]; se -= we[first] } \
        if (hit == "" && sd >= win && se / sd <= thr) hit = $$3; \
    } \
    END { flush() }

SUMMARY_HEADER := \#experiment\tarm\tval_top1_err\tval_top5_err\tbest_val_top1_err\ttrain_top1_err\titers_to_threshold\tthreshold\ttrain_img_s\tsettings

$(OUT)/%/summary.tsv: $$(foreach a,$$(ARMS_$$*),$(OUT)/$$*/$$(a).tsv) $(OUT)/settings/summary
	{ printf '$(SUMMARY_HEADER)\n'; \
	  awk -F'\t' -v name=$* -v thr=$(THRESHOLD) -v win=$(WINDOW) '$(SUMMARY_AWK)' $(filter %.tsv,$^); } > $@.tmp
	mv $@.tmp $@

$(OUT)/%.png: $$(foreach a,$$(ARMS_$$(notdir $$*)),$(OUT)/$$(notdir $$*)/$$(a).tsv) $(CURVES) $(OUT)/settings/summary
	sh $(CURVES) $(strip -c -w $(WINDOW) $(if $(filter relu-vs-tanh,$(notdir $*)),-t $(THRESHOLD))) $@ \
	    '$(TITLE_$(notdir $*))' $(foreach a,$(ARMS_$(notdir $*)),$(a)=$(OUT)/$(notdir $*)/$(a).tsv)

$(OUT)/summary.tsv: $(foreach e,$(EXPERIMENTS),$(OUT)/$(e)/summary.tsv $(OUT)/$(e)/$(e).png)
	awk 'FNR == 1 && NR != 1 { next } 1' $(foreach e,$(EXPERIMENTS),$(OUT)/$(e)/summary.tsv) > $@.tmp
	mv $@.tmp $@

clean:
	@case "$(OUT)" in '' | / | .) echo "ablations.mk: refusing to remove OUT='$(OUT)'" >&2; exit 1 ;; esac
	rm -rf $(OUT)
