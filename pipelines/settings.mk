# settings.mk: settings stamps, shared by the Makefile and the recipes in pipelines/.
#
# A stamp is a small file that holds the settings a step was made with. A step lists its
# stamp as a prerequisite, so when the settings change the stamp is rewritten, is newer
# than what the step made, and the step runs again; when they do not, the stamp keeps its
# time and nothing reruns. The comparison happens while make reads the makefile, so
# `make -n` tells the truth and writes nothing.
#
#   STAMP := $(OUT)/settings/train
#   $(STAMP): $(call settings_stale,$(STAMP),$(TRAIN_SETTINGS))
#   	$(call settings_write,$(TRAIN_SETTINGS))
#
# settings_stale gives the phony target .settings-changed (a name make never takes as the
# default goal) when FILE is missing or holds other text, and nothing when it holds TEXT
# (blanks squeezed, as $(strip) does). settings_write is the recipe that writes TEXT into
# the target, creating its directory.

settings_same = $(and $(findstring x$(1)x,x$(2)x),$(findstring x$(2)x,x$(1)x))
settings_stale = $(if $(wildcard $(1)),$(if $(call settings_same,$(strip $(file <$(1))),$(strip $(2))),,.settings-changed),.settings-changed)
settings_write = @mkdir -p $(@D) && printf '%s\n' '$(subst ','\'',$(strip $(1)))' > $@.tmp && mv $@.tmp $@

.PHONY: .settings-changed
.settings-changed: ;
