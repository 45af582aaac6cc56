# ticket - do lottery tickets transfer?
#   make            build bin/ticket (runs `make deps` first)
#   make test       build and run every test; ends with "N passed, N failed"
#   make layers     checks that no file includes a header of a higher layer (part of make test)
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-kernels  the tests once per OpenBLAS core type this CPU can run
#                   (KERNELS="Haswell SkylakeX" to choose; ASAN=1 for test-asan)
#   make data       install / fetch the real datasets this machine can get
#   make study      deps, build, data, then the default transfer study
#   make regress    the quick study, checked against the registry of published numbers
#   make regress-kernels  the quick study under two OpenBLAS core types, each checked
#   make test-slurm the quick study through a single-node Slurm on this machine, one task killed
#   make test-mpi   a small study under mpirun -np 3, with a rank killed midway (tests/mpi.sh)
#   make install    bin/ticket into PREFIX/bin, its catalog, plots, registry and studies
#                   into PREFIX/share/ticket (PREFIX=/usr/local, DESTDIR honoured)
#   make fuzz       build the libFuzzer harnesses of tests/fuzz/ into build-fuzz/ (clang);
#                   FUZZ_SECONDS=N runs each N seconds, FUZZ_JOBS=2 two at a time,
#                   FUZZ_TARGETS="idx ticket" only those
#   make NATIVE=1   tune for this CPU (-march=native)
#   make MPI=0|1    without / with the mpi backend (default: with it when mpicc is there)

CC      ?= cc
PKGS    := openblas libarchive libcjson zlib matio libpng libjpeg libcrypto
# -O3 so the element-wise loops vectorise; no -ffast-math, results stay IEEE-exact.
OPT     ?= -O3 -fno-math-errno
# -ffp-contract=off: no fused multiply-add, so the AVX2 and the portable builds of a
# TK_HOT loop (include/tk_common.h) round alike.
# -Wno-format-truncation: messages are cut at 1 KiB on purpose; paths are length-checked where built.
CFLAGS  := $(OPT) -std=c11 -ffp-contract=off -Wall -Wextra -Werror -Wno-format-truncation -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
ifeq ($(NATIVE),1)
CFLAGS  += -march=native
endif

# The mpi backend (backends/mpi.c) is built when mpicc is there; MPI=1 insists
# on it, MPI=0 leaves it out. Only mpi.c sees MPI's headers, so the rest
# compiles with $(CC) alike either way; without it `--backend mpi` says how
# to get it.
MPICC   ?= mpicc
MPI     ?= $(if $(shell command -v $(MPICC) 2>/dev/null),1,0)
ifeq ($(MPI),1)
ifeq ($(shell command -v $(MPICC) 2>/dev/null),)
$(error MPI=1 needs $(MPICC): apt-get install openmpi-bin libopenmpi-dev, or build with MPI=0)
endif
MPI_CFLAGS := $(shell $(MPICC) --showme:compile)
LDLIBS  += $(shell $(MPICC) --showme:link)
endif

# The layers, lowest first (ARCHITECTURE.md; `make layers` checks the includes).
LAYERS   := base datasets src tickets plots backends transfer
LIB_SRC  := $(foreach l,$(LAYERS),$(wildcard $(l)/*.c))
CLI_SRC  := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

# One build tree per flavour so that ASan objects never mix with plain ones.
B ?= build
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)

.PHONY: all deps data study regress regress-kernels test-slurm test-mpi test run-tests test-asan test-kernels bench clean golden layers \
        install uninstall fuzz fuzz-build fuzz-seeds
# Keep intermediate objects (tests/support.o) so a rebuild does not redo them.
.SECONDARY:
all: deps
	@$(MAKE) --no-print-directory bin/ticket

# Copy and rename, so that a running ticket (a study in progress) is not in the way.
bin/ticket: $(B)/ticket
	@mkdir -p bin
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/ticket: $(CLI_OBJ) $(B)/libticket.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(B)/libticket.a $(LDLIBS)

$(B)/libticket.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The version every result records (src/provenance.c): `git describe` of the
# source tree, "" outside git (the code then says TK_VERSION). The header is
# rewritten only when the description changes, so a new commit (or a tree
# turning dirty) rebuilds provenance.o and relinks, and nothing else.
$(B)/gen/tk_build_version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define TK_GIT_DESCRIBE "%s"\n' "$$(git -C '$(CURDIR)' describe --always --dirty 2>/dev/null)" >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(B)/src/provenance.o: $(B)/gen/tk_build_version.h
$(B)/src/provenance.o: CFLAGS += -I$(B)/gen

# Whether this build has MPI, rewritten only when MPI= changes (which then rebuilds mpi.o).
$(B)/gen/tk_build_mpi.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define TK_HAVE_MPI %s\n' '$(MPI)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(B)/backends/mpi.o: $(B)/gen/tk_build_mpi.h
$(B)/backends/mpi.o: CFLAGS += -I$(B)/gen $(MPI_CFLAGS)
.PHONY: FORCE
FORCE:

$(B)/tests/%: tests/%.c $(B)/tests/support.o $(B)/libticket.a $(B)/gen/tk_build_mpi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -I$(B)/gen -o $@ $< $(B)/tests/support.o $(B)/libticket.a $(LDLIBS)

# ticket looks for share/ticket/<folder> beside each ancestor of its own
# directory, so the installed tree is relocatable. TICKET_EXE: which build to install.
PREFIX     ?= /usr/local
TICKET_EXE ?= bin/ticket
SHARE      := $(DESTDIR)$(PREFIX)/share/ticket
install: $(TICKET_EXE)
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/catalog $(SHARE)/plots $(SHARE)/registry $(SHARE)/studies
	install -m 755 $(TICKET_EXE) $(DESTDIR)$(PREFIX)/bin/ticket
	install -m 644 datasets/catalog/*.json $(SHARE)/catalog
	install -m 644 plots/*.gp $(SHARE)/plots
	install -m 644 transfer/registry/*.json $(SHARE)/registry
	install -m 644 transfer/studies/*.json $(SHARE)/studies

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ticket
	rm -rf $(SHARE)

test: deps
	@$(MAKE) --no-print-directory run-tests

run-tests: $(B)/ticket $(TEST_BIN)
	@TICKET_BIN=$(CURDIR)/$(B)/ticket bash tests/run.sh tests/layers.sh $(TEST_BIN)

# No file includes a header of a layer above its own (tests/layers.sh).
layers:
	@bash tests/layers.sh

test-asan: deps
	@$(MAKE) --no-print-directory B=build-asan \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  run-tests

# Results must not depend on the kernel OpenBLAS picks for this CPU (tests/kernels.sh).
test-kernels: deps
	@bash tests/kernels.sh $(MAKE) --no-print-directory $(if $(ASAN),test-asan,run-tests)

# Every Debian package that building and running ticket needs.
DEPS_PKGS := build-essential pkg-config libopenblas-dev libarchive-dev libcjson-dev zlib1g-dev \
             libmatio-dev libpng-dev libjpeg62-turbo-dev libssl-dev gnuplot-nox
deps:
	@missing=""; for p in $(DEPS_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make deps: missing Debian packages; run: sudo apt-get install -y$$missing (or sudo make deps)"; exit 1; \
	  fi; \
	  echo "installing:$$missing"; \
	  if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || \
	     [ -n "$$(find /var/lib/apt/lists -maxdepth 0 -mtime +7)" ]; then apt-get update -qq; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || exit 1; \
	fi

data: all
	@bash datasets/fetch.sh

study: data
	./bin/ticket study run transfer/studies/default.json --out runs/study-default
	rm -rf report && cp -r runs/study-default/report report
	@echo "report: report/report.md, report/results.csv, report/figures/"

# The quick real-data study against the whole registry (under a minute on 2 cores):
# its own reference numbers PASS, entries scoped to other studies SKIP.
regress: data
	./bin/ticket study run transfer/studies/quick.json --out runs/study-quick
	./bin/ticket regress runs/study-quick --junit runs/study-quick/regress.xml --markdown runs/study-quick/regress.md

regress-kernels: data
	@bash tests/regress-kernels.sh

# The quick study through a single-node Slurm started on this machine (root,
# slurm-wlm and munge; says SKIP without them).
test-slurm: all data
	@bash tests/slurm.sh

# The mpi backend under mpirun -np 3, once with a rank killed (SKIP without Open MPI).
test-mpi: data
	@bash tests/mpi.sh bin/ticket

bench: all
	./bin/ticket bench

# Regenerates the committed golden fixtures (needs Debian's python3-torch).
golden:
	bash tests/golden/make_golden.sh

# ---- fuzzing (tests/fuzz/, README: Fuzzing). The library is compiled once more
# by clang into build-fuzz/ with coverage for libFuzzer and ASan + UBSan; each
# harness links it with libFuzzer's main. The seed corpora are checked in under
# tests/fuzz/corpus/<target>/; runs grow a copy in build-fuzz/corpus/<target>/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 0
FUZZ_JOBS    ?= 1
FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_support.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=undefined -Wno-unknown-warning-option -DTK_NO_TARGET_CLONES

fuzz: deps
	@if ! command -v $(FUZZ_CC) >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }' | \
	  $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then \
	  echo "make fuzz needs clang with libFuzzer: apt-get install clang libclang-rt-14-dev"; exit 1; fi
	@$(MAKE) --no-print-directory B=build-fuzz CC=$(FUZZ_CC) OPT="$(FUZZ_OPT)" fuzz-build
	@if [ "$(FUZZ_SECONDS)" != 0 ]; then \
	  bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS); fi

fuzz-build: $(FUZZ_ALL:%=$(B)/fuzz/fuzz_%) $(B)/fuzz/make_seeds

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(B)/fuzz/fuzz_support.o $(B)/libticket.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(B)/fuzz/fuzz_support.o $(B)/libticket.a $(LDLIBS)

$(B)/fuzz/fuzz_support.o: tests/fuzz/fuzz_support.c tests/fuzz/fuzz_support.h $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -c -o $@ $<

# Writes the binary seeds (checkpoint, ticket, archives, images, ...) with the
# library's own writers: `make fuzz-seeds` after a format changes.
$(B)/fuzz/make_seeds: tests/fuzz/make_seeds.c $(B)/fuzz/fuzz_support.o $(B)/tests/support.o $(B)/libticket.a
	$(CC) $(CFLAGS) -Itests -Itests/fuzz -o $@ $< $(B)/fuzz/fuzz_support.o $(B)/tests/support.o $(B)/libticket.a $(LDLIBS)

fuzz-seeds: fuzz
	build-fuzz/fuzz/make_seeds tests/fuzz/corpus

clean:
	rm -rf build build-asan build-fuzz bin
