# alexnet: the network of Krizhevsky, Sutskever and Hinton (2012) as small Unix tools.
#
#   make            libalexnet and every tool, under build/
#   make check      deps, build, C unit tests and Bats tests; last line "N passed, N failed"
#   make check-gpu  the same on a GPU host (GPU tests no longer skip)
#   make check-asan the unit and Bats suites on a build with AddressSanitizer and
#                   UndefinedBehaviorSanitizer (leaks too), CPU only, under build/asan
#   make fuzz       each fuzz target (fuzz/) for FUZZ_TIME seconds (60); FUZZ_TARGETS picks
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

LIB_SRC   := $(sort $(wildcard lib/core/*.c lib/cpu/*.c lib/model/*.c lib/train/*.c lib/data/*.c))
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
endif

# ---- fuzzing: clang's libFuzzer with ASan and UBSan, on a CPU-only library of its own -----
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_RUNS   ?= -1
FUZZ_SMOKE_TIME ?= 3
FUZZ_ALL    := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BUILD  := $(BUILD)/fuzz
FUZZ_SAN    := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
               -Wno-pass-failed
FUZZ_LIB    := $(FUZZ_BUILD)/libalexnet.a
FUZZ_BINS   := $(FUZZ_ALL:%=$(FUZZ_BUILD)/fuzz_%)
# A finding: a crash, a sanitizer report, a leak, an input that runs 20 s or allocates
# more than 2.5 GB (a legitimate image of 2^28 pixels takes 768 MB).
FUZZ_OPTS   ?= -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=2560 -print_final_stats=1
# The smoke inside `make test`: only where clang can build the targets (make deps
# installs it); FUZZ_SMOKE=0 leaves it out.
FUZZ_SMOKE  ?= $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),1,0)

.SECONDARY:
.PHONY: all check check-gpu check-gpu-memcheck check-asan bench-gpu test demo bench install uninstall clean deps fuzz fuzz-build
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

# A full disk on demand for the Bats tests (LD_PRELOAD); built without sanitizers.
$(BUILD)/tests/libfailwrite.so: tests/faults/failwrite.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -O2 -fPIC -shared $< -o $@ -ldl

test: all $(TESTS) $(BENCHES) $(BUILD)/tests/libfailwrite.so $(if $(filter 1,$(FUZZ_SMOKE)),$(FUZZ_BINS))
	@FUZZ_SMOKE=$(FUZZ_SMOKE) FUZZ_SMOKE_TIME=$(FUZZ_SMOKE_TIME) sh tests/run $(BUILD)

# ASan and UBSan over everything, linking the same OpenBLAS and OpenMP as the normal build.
# A sanitizer report exits 86, never a status a test expects; leaks in the libraries we
# link (their thread pools, kept until exit) are in tests/lsan.supp.
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
check-asan: deps
	@ASAN_OPTIONS=exitcode=86:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:verify_asan_link_order=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 \
	 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:exitcode=86 \
	 ANET_SANITIZE="-fsanitize=address,undefined" \
	 $(MAKE) --no-print-directory test BUILD=$(BUILD)/asan CUDA=0 FUZZ_SMOKE=0 \
	     CFLAGS="$(ASAN_CFLAGS)"

$(FUZZ_BUILD)/obj/%.o: %.c $(HEADERS) $(LIB_HDRS) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -Iinclude -D_GNU_SOURCE -DANET_VERSION=\"$(VERSION)\" $(WARN) $(FUZZ_SAN) \
	    -fsanitize=fuzzer-no-link -fopenmp -c $< -o $@

$(FUZZ_LIB): $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_LIB)
	$(FUZZ_CC) -Iinclude -D_GNU_SOURCE $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer -fopenmp $< $(FUZZ_LIB) -o $@ \
	    -llmdb -ljpeg -lpng -lz -lopenblas -lm -lpthread

fuzz-build: $(FUZZ_BINS)

# make fuzz [FUZZ_TIME=s] [FUZZ_RUNS=n] [FUZZ_TARGETS="lmdb checkpoint"]: each target runs
# FUZZ_TIME seconds or FUZZ_RUNS inputs, whichever ends first (0 and -1: no limit); new inputs gather in
# build/fuzz/corpus/TARGET (fuzz/corpus/TARGET is the committed seed corpus); a finding
# is written to build/fuzz/ and stops the run.
fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t && echo "fuzz: $$t, $(FUZZ_TIME) s" && \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -runs=$(FUZZ_RUNS) $(FUZZ_OPTS) \
	        -artifact_prefix=$(FUZZ_BUILD)/$$t- $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t \
	        || exit 1; \
	done

check: deps
	@$(MAKE) --no-print-directory test

check-gpu: deps
	@$(MAKE) --no-print-directory test ANET_REQUIRE_GPU=1

# The GPU parity tests under compute-sanitizer: out-of-bounds and misaligned accesses,
# and device memory still allocated at exit (leak check).
check-gpu-memcheck: $(BUILD)/tests/test_cuda
	ANET_REQUIRE_GPU=1 compute-sanitizer --tool memcheck --leak-check full --report-api-errors no \
	    --error-exitcode 1 \
	    $(BUILD)/tests/test_cuda

# Per-op and whole-step GPU timings beside PyTorch on the same card (nothing without a GPU).
bench-gpu: all $(BUILD)/bench/cuda_ops
	@sh bench/gpu.sh $(BUILD)

bench: deps all $(BENCHES)
	@sh bench/prep.sh $(BUILD)
	@sh bench/stats.sh $(BUILD)
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
