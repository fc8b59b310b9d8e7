# alexnet: the network of Krizhevsky, Sutskever and Hinton (2012) as small Unix tools.
#
#   make            libalexnet and every tool, under build/
#   make check      deps, build, C unit tests and Bats tests; last line "N passed, N failed"
#   make check-gpu  the same on a GPU host (GPU tests no longer skip)
#   make check-gpu-memcheck   the GPU parity tests under compute-sanitizer (leaks too)
#   make bench-gpu  per-op and training-step GPU timings beside PyTorch (GPU host)
#   make demo       deps, build, the main job end to end on a bundled default
#   make bench      throughput of prep, stats, training and evaluation, beside peers
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       installs the Debian packages the build and tests need (as root);
#                   ANET_SKIP_DEPS=1 skips it on a host that has them by other means
#
# Headers and libraries are also found through CPATH and LIBRARY_PATH, so a host whose
# packages were unpacked into a prefix builds unchanged.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
CC        ?= cc
OPT       ?= -O3 -march=native
CFLAGS    ?= $(OPT) -g
WARN      := -std=c11 -Wall -Wextra -Wno-unused-parameter
CPPFLAGS  += -Iinclude -D_GNU_SOURCE -DANET_VERSION=\"$(VERSION)\"
OMP       := -fopenmp
# OpenBLAS built on OpenMP shares one thread pool with our own OpenMP loops; the pthread
# build's workers spin after each call and slow the next OpenMP op down (1.6x on the
# whole training step, measured). Use the OpenMP build where Debian installs it.
BLAS_OMP  ?= /usr/lib/$(shell uname -m)-linux-gnu/openblas-openmp
ifneq ($(wildcard $(BLAS_OMP)/libopenblas.so),)
LDFLAGS   += -L$(BLAS_OMP) -Wl,-rpath,$(BLAS_OMP)
endif
LDLIBS    += -llmdb -ljpeg -lpng -lz -lopenblas -lm -lpthread

# CUDA: on when nvcc and cudnn.h are both found, unless CUDA=0.
NVCC      ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc),nvcc)
CUDA      ?= $(shell sh scripts/have-cuda.sh $(NVCC))

LIB_SRC   := $(sort $(wildcard lib/core/*.c lib/backend/*.c lib/cpu/*.c lib/model/*.c lib/train/*.c lib/data/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_SRC   := $(sort $(wildcard cmd/alexnet-*.c))
CMD_COMMON:= $(filter-out $(CMD_SRC),$(wildcard cmd/*.c))
CMD_OBJ   := $(CMD_COMMON:%.c=$(BUILD)/obj/%.o)
TOOLS     := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TEST_AUX  := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
TEST_AUX_OBJ := $(TEST_AUX:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBA      := $(BUILD)/lib/libalexnet.a
HEADERS   := $(wildcard include/alexnet/*.h)
LIB_HDRS  := $(wildcard lib/*/*.h)

# CUDA_ARCH: the card in this machine (native) when there is one, else a list from
# Turing to Hopper with PTX for later cards. CUDA_ARCH=sm_90 (or "75 80 90") overrides.
ifeq ($(CUDA),1)
CUDA_SRC  := $(sort $(wildcard lib/cuda/*.cu))
CUDA_OBJ  := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(shell command -v $(NVCC))))
CUDA_ARCH ?= $(shell nvidia-smi -L 2>/dev/null | grep -q GPU && echo native || echo 75 80 86 89 90)
ifeq ($(CUDA_ARCH),native)
ARCHFLAGS := -arch=native
else
ARCHFLAGS := $(foreach a,$(patsubst sm_%,%,$(CUDA_ARCH)),-gencode arch=compute_$(a),code=sm_$(a)) \
             -gencode arch=compute_$(lastword $(patsubst sm_%,%,$(CUDA_ARCH))),code=compute_$(lastword $(patsubst sm_%,%,$(CUDA_ARCH)))
endif
CPPFLAGS  += -DANET_CUDA=1
LDFLAGS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64
LDLIBS    += -lcudnn -lcublas -lcudart -lstdc++
NVFLAGS   ?= -O3 -std=c++17 $(ARCHFLAGS) -Xcompiler -Wall,-Wno-unused-parameter
# NCCL sums the gradients of data-parallel runs on GPUs; without it they go through host
# memory and MPI. NCCL=0 leaves it out.
NCCL      ?= $(shell sh scripts/have-nccl.sh $(NVCC))
ifeq ($(NCCL),1)
CPPFLAGS  += -DANET_NCCL=1
LDLIBS    += -lnccl
endif
endif

# MPI: data parallelism across processes (alexnet/dist.h), on when Open MPI's mpicc is
# found, unless MPI=0 (then a run is one process, and refuses to be launched as several).
MPI       ?= $(shell command -v mpicc >/dev/null 2>&1 && echo 1 || echo 0)
ifeq ($(MPI),1)
MPICC_LINK := $(shell mpicc --showme:link 2>/dev/null)
CPPFLAGS  += -DANET_MPI=1 $(shell mpicc --showme:compile 2>/dev/null)
LDFLAGS   += $(filter -L% -Wl%,$(MPICC_LINK))
LDLIBS    += $(filter -l%,$(MPICC_LINK))
endif

.SECONDARY:
.PHONY: all check check-gpu check-gpu-memcheck bench-gpu test demo bench install uninstall clean deps
all: $(LIBA) $(TOOLS)

$(BUILD)/obj/%.o: %.c $(HEADERS) $(LIB_HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(OMP) -c $< -o $@

$(BUILD)/obj/%.o: %.cu $(HEADERS) lib/cuda/common.cuh Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(CPPFLAGS) $(NVFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ) $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(CMD_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_AUX_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(CMD_OBJ) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) $^ -o $@ $(LDFLAGS) $(LDLIBS)

deps:
	@sh scripts/deps.sh

test: all $(TESTS) $(BENCHES)
	@sh tests/run $(BUILD)

check: deps
	@$(MAKE) --no-print-directory test

check-gpu: deps
	@$(MAKE) --no-print-directory test ANET_REQUIRE_GPU=1

# The GPU parity tests under compute-sanitizer: out-of-bounds and misaligned accesses,
# and device memory still allocated at exit (leak check).
check-gpu-memcheck: $(BUILD)/tests/test_backend
	ANET_REQUIRE_GPU=1 compute-sanitizer --tool memcheck --leak-check full --report-api-errors no \
	    --error-exitcode 1 \
	    $(BUILD)/tests/test_backend

# Per-op and whole-step GPU timings beside PyTorch on the same card (nothing without a GPU).
bench-gpu: all $(BUILD)/bench/cuda_ops
	@sh bench/gpu.sh $(BUILD)

bench: deps all $(BENCHES)
	@sh bench/prep.sh $(BUILD)
	@sh bench/stats.sh $(BUILD)
	@sh bench/neighbours.sh $(BUILD)
	@sh bench/train_step.sh $(BUILD)
	@sh bench/train.sh $(BUILD)
	@sh bench/eval.sh $(BUILD)
	@sh bench/gpu.sh $(BUILD)

# make demo [OUT=dir] [CLASSES=n EPOCHS=n ...]: see pipelines/demo.mk
demo: deps all
	@$(MAKE) --no-print-directory -f pipelines/demo.mk BIN=$(BUILD)/bin

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/alexnet
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/alexnet/
	for s in 1 5 7; do for f in man/man$$s/*.$$s; do [ -e "$$f" ] || continue; \
	    install -m 644 "$$f" $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; done

uninstall:
	rm -f $(TOOLS:$(BUILD)/bin/%=$(DESTDIR)$(PREFIX)/bin/%) $(DESTDIR)$(PREFIX)/lib/libalexnet.a
	rm -rf $(DESTDIR)$(PREFIX)/include/alexnet

clean:
	rm -rf $(BUILD)
