# byzgd — one non-recursive Makefile.
#
#   make            release build into build/bin/
#   make test       installs missing packages, builds with ASan+UBSan, runs every test
#   make demo       the README's main job: a local cluster with attackers on Fashion-MNIST
#   make figures    the paper's Figures 2-5 and an attack table: docs/RESULTS.md, docs/figures/
#   make compose-demo  the same demo in Docker containers (deploy/compose.sh)
#   make bench      benchmarks (figures on stdout)
#   make lint       cppcheck + clang-tidy
#   make format-check / format
#   make fuzz       clang libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make man        man pages from each program's --help (help2man) into build/man/
#   make install    PREFIX=/usr/local DESTDIR=: programs (not the test tools), man pages, docs
#
# Mandatory flags live in BYZGD_CFLAGS, so `make CFLAGS=...` only changes optimisation.
# WERROR=1 (or CI=true in the environment) turns warnings into errors.
# Never add -ffast-math or -Ofast: they make isfinite(NaN) true (docs/ARCHITECTURE.md §7).

PREFIX  ?= /usr/local
DESTDIR ?=
CFLAGS  ?= -O3 -g -march=native
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
BUILD   := build

MSGPACK_PC := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PKGS       := libzmq libczmq $(MSGPACK_PC) libsodium openblas zlib libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

# Option rows (support/options.h) leave out the trailing columns they do not use.
WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
            -Wformat=2 -Wvla -Wundef -Wwrite-strings -Wold-style-definition \
            -Wno-missing-field-initializers
ifneq ($(filter 1 true,$(WERROR) $(CI)),)
WARNINGS += -Werror
endif
BYZGD_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -Icommon $(WARNINGS) $(PKG_CFLAGS) -MMD -MP
SANITIZE     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# Layers, bottom up: common/support (logging, bytes, rng, clock, JSON, npy, options, files),
# common/rules (aggregation), common/learning (layers, models, datasets, attacks),
# common/wire (codec, security, deny-list, actors); then the programs: each directory with
# a main.c is one executable (byzgd-<dir>), each tools/*.c a small one (byzgd-<file>).
# Library: everything with logic. Actors and launcher modules live beside their program but
# are archived too, so the Byzantine worker and the tests link the same code as the real
# executables.
LAYERS   := common/support common/rules common/learning common/wire
PROG_DIRS:= server worker byzantine cluster supervise simulate sweep
LIB_SRC := $(sort $(foreach d,$(LAYERS),$(wildcard $d/*.c)) \
             $(filter-out %/main.c,$(foreach d,$(PROG_DIRS),$(wildcard $d/*.c))))
MAIN_SRC := $(foreach d,$(PROG_DIRS),$(wildcard $d/main.c)) $(wildcard tools/*.c)
prog_name = $(if $(filter tools/%,$1),byzgd-$(basename $(notdir $1)),byzgd-$(patsubst %/,%,$(dir $1)))
PROGRAMS := $(foreach s,$(MAIN_SRC),$(call prog_name,$s))
# Test tools are built and run by the tests but not installed.
TEST_TOOLS := byzgd-hammer
INSTALLED_PROGRAMS := $(filter-out $(TEST_TOOLS),$(PROGRAMS))
# One version for every program (--version, man pages), kept in common/support/version.h.
VERSION := $(shell sed -n 's/^\#define BYZGD_VERSION "\(.*\)"$$/\1/p' common/support/version.h)
MAN_PAGES := $(INSTALLED_PROGRAMS:%=$(BUILD)/man/%.1)
DOCS := README.md $(wildcard docs/*.md)
# Programs that are scripts: copied beside the executables (both flavours) and installed.
SCRIPTS  := sweep/byzgd-plot

TEST_SRC    := $(wildcard tests/test_*.c)
TEST_SUPPORT:= $(wildcard tests/support/*.c)
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC   := $(wildcard bench/bench_*.c)

# Quiet by default: one short line per step; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $1 $2
endif

REL  := $(BUILD)/rel
ASAN := $(BUILD)/asan
FUZZ := $(BUILD)/fuzz

# Keep objects that pattern chains would otherwise delete as intermediates.
.SECONDARY:

.PHONY: all test check demo figures compose-demo image bench lint format format-check fuzz man install clean deps
all: $(addprefix $(BUILD)/bin/,$(PROGRAMS) $(notdir $(SCRIPTS)))
# (Two rules: a pattern rule with two targets would make both in one run.)
copy_script = @mkdir -p $(@D) && sed 's/@BYZGD_VERSION@/$(VERSION)/' $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@
$(BUILD)/bin/byzgd-%: sweep/byzgd-% common/support/version.h
	$(copy_script)
$(ASAN)/bin/byzgd-%: sweep/byzgd-% common/support/version.h
	$(copy_script)

# ---- release flavour
$(REL)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(BYZGD_CFLAGS) -fopenmp $(CFLAGS) -c $< -o $@
$(REL)/libbyzgd.a: $(LIB_SRC:%.c=$(REL)/%.o)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^
define program_rule
$(BUILD)/bin/$(call prog_name,$1): $(REL)/$(1:.c=.o) $(REL)/libbyzgd.a
	@mkdir -p $$(@D)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) -fopenmp $$(CFLAGS) $$^ -o $$@ $$(PKG_LIBS) $$(LDFLAGS)
$(ASAN)/bin/$(call prog_name,$1): $(ASAN)/$(1:.c=.o) $(ASAN)/libbyzgd.a
	@mkdir -p $$(@D)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) -fopenmp $$(SANITIZE) -g $$^ -o $$@ $$(PKG_LIBS) $$(LDFLAGS)
endef
$(foreach s,$(MAIN_SRC),$(eval $(call program_rule,$s)))

# ---- sanitizer flavour (tests)
$(ASAN)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(BYZGD_CFLAGS) -fopenmp -O1 -g $(SANITIZE) -Itests -c $< -o $@
$(ASAN)/libbyzgd.a: $(LIB_SRC:%.c=$(ASAN)/%.o)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^
$(ASAN)/tests/test_%: $(ASAN)/tests/test_%.o $(TEST_SUPPORT:%.c=$(ASAN)/%.o) $(ASAN)/libbyzgd.a
	$(call say,LD,$@)
	$(Q)$(CC) -fopenmp $(SANITIZE) -g $^ -o $@ $(PKG_LIBS)
# Fuzz targets are replayed over their corpora by the tests, with a plain main().
$(ASAN)/tests/fuzz/replay_%: $(ASAN)/tests/fuzz/fuzz_%.o $(ASAN)/tests/fuzz/replay_main.o $(ASAN)/libbyzgd.a
	$(call say,LD,$@)
	$(Q)$(CC) -fopenmp $(SANITIZE) -g $^ -o $@ $(PKG_LIBS)

TEST_BINS   := $(patsubst tests/%.c,$(ASAN)/tests/%,$(TEST_SRC))
REPLAY_BINS := $(patsubst tests/fuzz/fuzz_%.c,$(ASAN)/tests/fuzz/replay_%,$(FUZZ_SRC))
ASAN_PROGS  := $(addprefix $(ASAN)/bin/,$(PROGRAMS) $(notdir $(SCRIPTS)))

deps:
	@deploy/install-deps.sh

# `make test` first installs what is missing, then re-reads this Makefile so pkg-config
# answers with the packages present.
test: deps
	@$(MAKE) --no-print-directory check

check: $(TEST_BINS) $(REPLAY_BINS) $(ASAN_PROGS) all
	@tests/run-tests.sh $(ASAN)

demo: deps
	@$(MAKE) --no-print-directory all
	@deploy/demo.sh

# The paper's Figures 2-5 and the attack table into docs/ (FIGURES=fig4 runs one; the
# variables of experiments/figures.sh choose the rest).
figures: deps
	@$(MAKE) --no-print-directory all
	@experiments/figures.sh

# The demo in containers (deploy/docker-compose.yml); provisions Docker and the base image
# when missing (deploy/compose.sh, docs/DEPLOY.md). `make image` builds byzgd:latest only.
compose-demo: deps
	@deploy/compose.sh demo
image: deps
	@deploy/compose.sh image

# ---- benchmarks (release flags)
$(REL)/bench/bench_%: $(REL)/bench/bench_%.o $(REL)/libbyzgd.a
	$(call say,LD,$@)
	$(Q)$(CC) -fopenmp $(CFLAGS) $^ -o $@ $(PKG_LIBS)
bench: all $(patsubst bench/%.c,$(REL)/bench/%,$(BENCH_SRC))
	@bench/run-bench.sh $(REL)/bench

# ---- fuzzing with clang libFuzzer (not part of `make test`)
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -I. -Icommon $(PKG_CFLAGS) -Wno-unknown-pragmas -g -O1 -MMD -MP \
              -fsanitize=address,undefined -fno-sanitize-recover=undefined
$(FUZZ)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ)/fuzz_%: $(FUZZ)/tests/fuzz/fuzz_%.o $(LIB_SRC:%.c=$(FUZZ)/%.o)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(PKG_LIBS)
fuzz: deps
	@$(MAKE) --no-print-directory $(patsubst tests/fuzz/%.c,$(FUZZ)/%,$(FUZZ_SRC))
	@tests/fuzz/run-fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

# ---- hygiene
C_FILES := $(wildcard $(foreach d,$(LAYERS) $(PROG_DIRS),$d/*.[ch]) tools/*.[ch] \
             tests/*.[ch] tests/support/*.[ch] tests/fuzz/*.[ch] bench/*.[ch])
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -I. -Icommon -Itests $(LIB_SRC) $(MAIN_SRC)
	clang-tidy --quiet $(LIB_SRC) $(MAIN_SRC) -- -std=c11 -D_GNU_SOURCE -I. -Icommon $(PKG_CFLAGS)
format:
	clang-format -i $(C_FILES)
format-check:
	clang-format --dry-run --Werror $(C_FILES)

# ---- man pages: help2man reads each program's --help and --version; the NAME line is the
# summary on the second line of --help.
$(BUILD)/man/%.1: $(BUILD)/bin/%
	@mkdir -p $(@D)
	$(call say,MAN,$@)
	$(Q)help2man --no-info --no-discard-stderr --version-string=$(VERSION) \
	  --name="$$(./$< --help | sed -n '2s/\.$$//p')" --output=$@ ./$<
man: $(MAN_PAGES)

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/doc/byzgd
	install -m 755 $(addprefix $(BUILD)/bin/,$(INSTALLED_PROGRAMS) $(notdir $(SCRIPTS))) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(DOCS) $(DESTDIR)$(PREFIX)/share/doc/byzgd/

clean:
	rm -rf $(BUILD)

# build/docker holds the private Docker daemon's files (deploy/compose.sh): not ours to scan.
-include $(shell find $(BUILD) -path $(BUILD)/docker -prune -o -name '*.d' -type f -print 2>/dev/null)
