# alexnet: the network of Krizhevsky, Sutskever and Hinton (2012) as small Unix tools.
#
#   make            libalexnet (static and shared) and every tool, under build/
#   make check      deps, build, C unit tests and Bats tests; last line "N passed, N failed"
#   make check-gpu  the same on a GPU host (GPU tests no longer skip)
#   make check-asan the unit and Bats suites on a build with AddressSanitizer and
#                   UndefinedBehaviorSanitizer (leaks too), CPU only, under build/asan
#   make fuzz       each fuzz target (fuzz/) for FUZZ_TIME seconds (60); FUZZ_TARGETS picks
#   make check-gpu-memcheck   the GPU parity tests under compute-sanitizer (leaks too)
#   make bench-gpu  per-op and training-step GPU timings beside PyTorch (GPU host)
#   make demo       deps, build, the main job end to end on a bundled default
#   make bench      throughput of prep, stats, training and evaluation, beside peers
#   make install    PREFIX=/usr/local DESTDIR= [PORTABLE=1]; make uninstall the same
#   make deps       installs the Debian packages the build, the plots and the tests need
#                   (as root; scripts/deps.sh names the groups); ANET_SKIP_DEPS=1 skips it
#                   on a host that has them by other means
#
# demo, check and bench install what they need first, then build in a make of their own
# (so the build sees the libraries deps installed), with a job a core unless -j is given.
#
# Settings that change the compiled code (CC, CFLAGS, OPT, PORTABLE, CUDA, CUDA_ARCH, the
# BLAS found, ...) are kept in stamps under build/flags/: when one changes, what depends
# on it is rebuilt or relinked, and nothing else (pipelines/settings.mk).
#
# Headers and libraries are also found through CPATH and LIBRARY_PATH, so a host whose
# packages were unpacked into a prefix builds unchanged.

VERSION   := 0.1.0
comma     := ,
SOVERSION := 0
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
CC        ?= cc
# PORTABLE=1: code for any CPU of this architecture (the compiler's baseline) instead of
# this machine's own instructions; for binaries installed elsewhere. Measured (BENCHMARKS.md):
# no cost in training and inference, whose time is OpenBLAS's (which picks its kernels when
# it runs), 18% more CPU in alexnet-prep's resizing and colour conversion.
PORTABLE  ?= 0
OPT       ?= -O3 $(if $(filter 1,$(PORTABLE)),,-march=native)
CFLAGS    ?= $(OPT) -g
WARN      := -std=c11 -Wall -Wextra -Wno-unused-parameter
CPPFLAGS  += -Iinclude -D_GNU_SOURCE -DANET_VERSION=\"$(VERSION)\"
# Position-independent code, so that the same objects make the static and the shared
# library; calls inside the library stay direct.
PIC       := -fPIC -fno-semantic-interposition
OMP       := -fopenmp
# OpenBLAS built on OpenMP shares one thread pool with our own OpenMP loops; the pthread
# build's workers spin after each call and slow the next OpenMP op down (1.6x on the
# whole training step, measured). Use the OpenMP build where Debian installs it. It is
# looked for when make starts, so demo and check look in a make that starts after deps;
# the link flags are a stamp, so the tools are relinked when it appears.
BLAS_OMP  ?= /usr/lib/$(shell uname -m)-linux-gnu/openblas-openmp
ifneq ($(wildcard $(BLAS_OMP)/libopenblas.so),)
LDFLAGS   += -L$(BLAS_OMP) -Wl,-rpath,$(BLAS_OMP)
endif
LDLIBS    += -llmdb -ljpeg -lpng -lz -lopenblas -lm -lpthread

# CUDA: on when nvcc and cudnn.h are both found, unless CUDA=0.
# (Each detection runs once: := where the user gave no value.)
ifeq ($(origin NVCC),undefined)
NVCC      := $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc),nvcc)
endif
ifeq ($(origin CUDA),undefined)
CUDA      := $(shell sh scripts/have-cuda.sh $(NVCC))
CUDA_FOUND := 1
endif

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
SONAME    := libalexnet.so.$(SOVERSION)
SOLIB     := $(BUILD)/lib/libalexnet.so.$(VERSION)
HEADERS   := $(wildcard include/alexnet/*.h)
LIB_HDRS  := $(wildcard lib/*/*.h)
MAN_PAGES := $(sort $(wildcard man/man1/*.1 man/man5/*.5 man/man7/*.7))

# CUDA_ARCH: the card in this machine (native) when one answers. Without one, PTX only
# (for compute_75, Turing, and later cards: the driver compiles it for the card that runs
# it, once, and caches it): a fifth of the time of machine code for five architectures.
# CUDA_ARCH=all builds machine code from Turing to Hopper with PTX for later cards;
# CUDA_ARCH=sm_90 (or "80 90") for those cards, with PTX for the last.
CUDA_ALL  := 75 80 86 89 90
ifeq ($(CUDA),1)
CUDA_SRC  := $(sort $(wildcard lib/cuda/*.cu))
CUDA_OBJ  := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
CUDA_HOME ?= $(patsubst %/bin/,%,$(dir $(shell command -v $(NVCC))))
ifeq ($(origin CUDA_ARCH),undefined)
CUDA_ARCH := $(if $(filter-out 0,$(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU')),native,ptx)
endif
ifeq ($(CUDA_ARCH),native)
ARCHFLAGS := -arch=native
BUILT     := CPU and CUDA for the GPU in this machine (CUDA_ARCH=native); CUDA=0 builds the CPU tools alone
else ifeq ($(CUDA_ARCH),ptx)
ARCHFLAGS := -gencode arch=compute_75,code=compute_75
BUILT     := CPU, and CUDA as PTX only (no GPU answers here; a card compiles it on first use); CUDA_ARCH=all builds machine code for Turing to Hopper, CUDA=0 the CPU tools alone
else
ARCHS     := $(patsubst sm_%,%,$(if $(filter all,$(CUDA_ARCH)),$(CUDA_ALL),$(CUDA_ARCH)))
ARCHFLAGS := $(foreach a,$(ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
             -gencode arch=compute_$(lastword $(ARCHS)),code=compute_$(lastword $(ARCHS))
BUILT     := CPU and CUDA machine code for sm_$(subst $() $(),$(comma)sm_,$(ARCHS)) (CUDA_ARCH=$(CUDA_ARCH)); CUDA=0 builds the CPU tools alone
endif
CPPFLAGS  += -DANET_CUDA=1
LDFLAGS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64
LDLIBS    += -lcudnn -lcublas -lcudart -lstdc++
NVFLAGS   ?= -O3 -std=c++17 $(ARCHFLAGS) -Xcompiler -Wall,-Wno-unused-parameter,-fPIC
# NCCL sums the gradients of data-parallel runs on GPUs; without it they go through host
# memory and MPI. NCCL=0 leaves it out.
ifeq ($(origin NCCL),undefined)
NCCL      := $(shell sh scripts/have-nccl.sh $(NVCC))
endif
ifeq ($(NCCL),1)
CPPFLAGS  += -DANET_NCCL=1
LDLIBS    += -lnccl
endif
else ifeq ($(CUDA_FOUND),)
BUILT     := the CPU tools alone (CUDA=$(CUDA))
else
BUILT     := the CPU tools alone (no nvcc that finds cuDNN and cuBLAS: set NVCC, or CPATH to cudnn.h)
endif

# MPI: data parallelism across processes (alexnet/dist.h), on when Open MPI's mpicc is
# found, unless MPI=0 (then a run is one process, and refuses to be launched as several).
ifeq ($(origin MPI),undefined)
MPI       := $(shell command -v mpicc >/dev/null 2>&1 && echo 1 || echo 0)
endif
ifeq ($(MPI),1)
MPICC_LINK := $(shell mpicc --showme:link 2>/dev/null)
CPPFLAGS  += -DANET_MPI=1 $(shell mpicc --showme:compile 2>/dev/null)
LDFLAGS   += $(filter -L% -Wl%,$(MPICC_LINK))
LDLIBS    += $(filter -l%,$(MPICC_LINK))
endif

# -jN for a make started by a recipe, N the cores, unless the command line gave -j
# (MAKEFLAGS holds -j only while recipes run, so this is read there).
NPROC     := $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
JOBS       = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

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
# The smoke inside the tests: only where clang can build the targets (make deps installs
# it; a make started after deps decides); FUZZ_SMOKE=0 leaves it out.
ifeq ($(origin FUZZ_SMOKE),undefined)
FUZZ_SMOKE  := $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),1,0)
endif
# What the recipes that run tests/run after deps pass it: the command line's or the
# environment's value, else decided then, in the shell (clang may have just been installed).
FUZZ_SMOKE_SH = $(if $(filter command line environment,$(origin FUZZ_SMOKE)),$(FUZZ_SMOKE),$$(command -v $(FUZZ_CC) >/dev/null 2>&1 && echo 1 || echo 0))

# ---- building --------------------------------------------------------------------------
.SECONDARY:
.PHONY: all check check-gpu check-gpu-memcheck check-asan bench-gpu test tests demo bench \
        install uninstall clean deps fuzz fuzz-build
all: $(LIBA) $(SOLIB) $(TOOLS)

# ---- the stamps of the settings that shape the build -------------------------------------
include pipelines/settings.mk
CC_TEXT   := $(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(OMP) $(PIC)
CUDA_TEXT := CUDA=$(CUDA) $(if $(filter 1,$(CUDA)),$(NVCC) $(CPPFLAGS) $(NVFLAGS))
LD_TEXT   := $(CC) $(CFLAGS) $(OMP) $(LDFLAGS) $(LDLIBS)

$(BUILD)/flags/cc: $(call settings_stale,$(BUILD)/flags/cc,$(CC_TEXT))
	$(call settings_write,$(CC_TEXT))

# Written when the CUDA configuration is first used or changes: the one line that says
# what is being built and how to change it.
$(BUILD)/flags/cuda: $(call settings_stale,$(BUILD)/flags/cuda,$(CUDA_TEXT))
	@echo "build: $(BUILT)"
	$(call settings_write,$(CUDA_TEXT))

$(BUILD)/flags/ld: $(call settings_stale,$(BUILD)/flags/ld,$(LD_TEXT))
	$(call settings_write,$(LD_TEXT))

# C: each object also lists the headers it includes (-MMD: build/obj/**/*.d).
$(BUILD)/obj/%.o: %.c $(BUILD)/flags/cc
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(OMP) $(PIC) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cu $(HEADERS) $(LIB_HDRS) $(wildcard lib/cuda/*.cuh) $(BUILD)/flags/cuda
	@mkdir -p $(dir $@)
	$(NVCC) $(CPPFLAGS) $(NVFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ) $(CUDA_OBJ) $(BUILD)/flags/cuda
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(filter %.o,$^)

# The shared library: soname libalexnet.so.SOVERSION, and the links a build against it
# and a program that runs with it look for.
$(SOLIB): $(LIB_OBJ) $(CUDA_OBJ) $(BUILD)/flags/cuda $(BUILD)/flags/ld
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) $(CFLAGS) $(OMP) $(filter %.o,$^) -o $@ $(LDFLAGS) $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/lib/libalexnet.so

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(CMD_OBJ) $(LIBA) $(BUILD)/flags/ld
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) $(filter-out $(BUILD)/flags/%,$^) -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_AUX_OBJ) $(LIBA) $(BUILD)/flags/ld
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) $(filter-out $(BUILD)/flags/%,$^) -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(CMD_OBJ) $(LIBA) $(BUILD)/flags/ld
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(OMP) $(filter-out $(BUILD)/flags/%,$^) -o $@ $(LDFLAGS) $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- the commands ------------------------------------------------------------------------
deps:
	@sh scripts/deps.sh

# A full disk on demand for the Bats tests (LD_PRELOAD); built without sanitizers.
$(BUILD)/tests/libfailwrite.so: tests/faults/failwrite.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -O2 -fPIC -shared $< -o $@ -ldl

# Everything the tests run: the library, the tools, the unit tests, the benchmarks, the
# write-failure shim, and the fuzz targets where clang is here.
tests: all $(TESTS) $(BENCHES) $(BUILD)/tests/libfailwrite.so $(if $(filter 1,$(FUZZ_SMOKE)),$(FUZZ_BINS))

test: tests
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
	 $(MAKE) --no-print-directory test BUILD=$(BUILD)/asan CUDA=0 MPI=0 FUZZ_SMOKE=0 \
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

# deps, then the build in a make that starts after them (-j a core), then the tests one
# at a time; makes the tests start see no job server of ours.
check:
	@sh scripts/deps.sh tools plots tests
	@$(MAKE) --no-print-directory $(JOBS) tests
	@MAKEFLAGS='$(filter-out -j% --jobserver-auth=% --jobserver-fds=%,$(MAKEFLAGS))' \
	 FUZZ_SMOKE=$(FUZZ_SMOKE_SH) FUZZ_SMOKE_TIME=$(FUZZ_SMOKE_TIME) sh tests/run $(BUILD)

check-gpu:
	@sh scripts/deps.sh tools plots tests
	@$(MAKE) --no-print-directory $(JOBS) tests
	@MAKEFLAGS='$(filter-out -j% --jobserver-auth=% --jobserver-fds=%,$(MAKEFLAGS))' ANET_REQUIRE_GPU=1 \
	 FUZZ_SMOKE=$(FUZZ_SMOKE_SH) FUZZ_SMOKE_TIME=$(FUZZ_SMOKE_TIME) sh tests/run $(BUILD)

# The GPU parity tests under compute-sanitizer: out-of-bounds and misaligned accesses,
# and device memory still allocated at exit (leak check).
check-gpu-memcheck: $(BUILD)/tests/test_backend
	ANET_REQUIRE_GPU=1 compute-sanitizer --tool memcheck --leak-check full --report-api-errors no \
	    --error-exitcode 1 \
	    $(BUILD)/tests/test_backend

# Per-op and whole-step GPU timings beside PyTorch on the same card (nothing without a GPU).
bench-gpu: all $(BUILD)/bench/cuda_ops
	@sh bench/gpu.sh $(BUILD)

bench:
	@sh scripts/deps.sh tools peers
	@$(MAKE) --no-print-directory $(JOBS) all $(BENCHES)
	@sh bench/prep.sh $(BUILD)
	@sh bench/stats.sh $(BUILD)
	@sh bench/neighbours.sh $(BUILD)
	@sh bench/train_step.sh $(BUILD)
	@sh bench/train.sh $(BUILD)
	@sh bench/eval.sh $(BUILD)
	@sh bench/gpu.sh $(BUILD)

# make demo [OUT=dir] [CLASSES=n EPOCHS=n ...]: see pipelines/demo.mk
demo:
	@sh scripts/deps.sh tools plots
	@$(MAKE) --no-print-directory $(JOBS) all
	@$(MAKE) --no-print-directory -f pipelines/demo.mk BIN=$(BUILD)/bin

# ---- installing --------------------------------------------------------------------------
# The pkg-config file: -lalexnet for a program linked with the shared library (which
# brings its own dependencies); --static adds what the static library needs.
define PC_FILE
prefix=$(PREFIX)
libdir=$${prefix}/lib
includedir=$${prefix}/include

Name: alexnet
Description: the network of Krizhevsky, Sutskever and Hinton (2012): ops, model, data, training
Version: $(VERSION)
Cflags: -I$${includedir}
Libs: -L$${libdir} -lalexnet
Libs.private: $(OMP) $(LDFLAGS) $(LDLIBS)
endef
export PC_FILE

INSTALLED_TOOLS := $(CMD_SRC:cmd/%.c=$(DESTDIR)$(PREFIX)/bin/%)
INSTALLED_MAN   := $(foreach p,$(MAN_PAGES),$(DESTDIR)$(PREFIX)/share/$(p))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/alexnet
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SOLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(notdir $(SOLIB)) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libalexnet.so
	printf '%s\n' "$$PC_FILE" > $(DESTDIR)$(PREFIX)/lib/pkgconfig/alexnet.pc
	install -m 644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/alexnet/
	for p in $(MAN_PAGES); do install -m 644 $$p $(DESTDIR)$(PREFIX)/share/$$(dirname $$p)/ || exit 1; done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
	@$(if $(filter 1,$(PORTABLE)),:,echo "install: built for this machine's CPU (-march=native); PORTABLE=1 builds tools and library that run on any $$(uname -m) CPU")

uninstall:
	rm -f $(INSTALLED_TOOLS) $(INSTALLED_MAN)
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/lib/,libalexnet.a libalexnet.so $(SONAME) $(notdir $(SOLIB)) pkgconfig/alexnet.pc)
	rm -rf $(DESTDIR)$(PREFIX)/include/alexnet

clean:
	rm -rf $(BUILD)
