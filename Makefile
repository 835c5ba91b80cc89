# kubectl zt — build, test and try it.
#   make demo    render the built-in example (no set-up needed)
#   make test    the whole test suite (what CI runs)
#   make golden  regenerate golden files after an intended output change; review the git diff
#   make bench   benchmarks (performance targets live here, not in tests)
#   make install put the kubectl plugins on PATH (PREFIX, default ~/.local)
#   make lint    rustfmt + clippy, warnings are errors
#   make oracles build the upstream components the tests judge our output with (needs Go;
#                into target/oracles/, or $ZT_ORACLES_DIR; warm runs rebuild nothing)

PREFIX ?= $(HOME)/.local
CARGO ?= cargo
DEMO_OUT ?= out/example
PLUGINS := kubectl-zt kubectl-zt-render kubectl-zt-secrets kubectl-zt-validate kubectl-zt-deploy kubectl-zt-preview_patch kubectl-zt-bootstrap kubectl-zt-test kubectl-zt-ci kubectl-zt-status
COMPLETERS := kubectl_complete-zt kubectl_complete-zt-render kubectl_complete-zt-secrets kubectl_complete-zt-validate kubectl_complete-zt-deploy kubectl_complete-zt-preview_patch kubectl_complete-zt-bootstrap kubectl_complete-zt-test kubectl_complete-zt-ci kubectl_complete-zt-status

.PHONY: build demo test golden bench install lint clean oracles

build:
	$(CARGO) build --release --workspace --bins

demo:
	$(CARGO) run --quiet --release -p zt-plugins --bin kubectl-zt -- render --example --out $(DEMO_OUT)
	@echo
	@echo "Rendered the built-in example into $(DEMO_OUT)/ — try: less $(DEMO_OUT)/talos/cp01-main.yaml"

test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc

golden:
	ZT_UPDATE_GOLDEN=1 $(CARGO) test --workspace --no-fail-fast -- golden
	@git status --short -- golden tests/testdata || true

bench:
	$(CARGO) bench -p zt --bench preview_patch
	$(CARGO) bench -p zt --bench render
	$(CARGO) bench -p zt --bench deploy
	$(CARGO) bench -p zt --bench yaml
	$(CARGO) bench -p zt --bench wait
	$(CARGO) bench -p zt --bench parallel

install:
	$(CARGO) build --release -p zt-plugins --bin kubectl-zt --bin kubectl_complete-zt
	install -d $(PREFIX)/bin
	install -m 0755 target/release/kubectl-zt target/release/kubectl_complete-zt $(PREFIX)/bin/
	# One binary: each per-command plugin is a link to kubectl-zt, which reads its own name.
	for p in $(filter-out kubectl-zt,$(PLUGINS)); do ln -sf kubectl-zt $(PREFIX)/bin/$$p; done
	for c in $(filter-out kubectl_complete-zt,$(COMPLETERS)); do ln -sf kubectl_complete-zt $(PREFIX)/bin/$$c; done
	@echo "installed into $(PREFIX)/bin; make sure it is on PATH, then: kubectl zt --help"

oracles:
	tests/oracles/build.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf out
