#!/usr/bin/env bash
# Builds the oracles (upstream components built from their pinned Go modules) into
# target/oracles/ (or $ZT_ORACLES_DIR). `make oracles` runs this.
#
# Each binary is rebuilt only when what it is built from changed: its go.mod/go.sum (and
# main.go for our own programs), the build flags and the Go version, hashed into a stamp file
# next to the binary. A warm run is therefore a few hashes.
#
# Go builds run with -p 2 by default (ZT_ORACLES_GO_P overrides): the machine that builds them
# is often compiling Rust at the same time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${ZT_ORACLES_DIR:-$root/target/oracles}"
jobs="${ZT_ORACLES_GO_P:-2}"

if ! command -v go >/dev/null 2>&1; then
  echo "oracles: go is not installed; nothing built (the oracle tests will skip)" >&2
  exit 1
fi

mkdir -p "$out/.stamps"
# Absolute, since each build runs in its module's directory.
out="$(cd "$out" && pwd)"
# The committed go.sum files must already hold every checksum: a build never edits them.
export GOFLAGS="-mod=readonly ${GOFLAGS:-}"
export CGO_ENABLED=0
go_version="$(go env GOVERSION)"

# build NAME DIR "INPUT FILES" -- GO BUILD ARGS...
# Runs `go build` in DIR with -o $out/NAME unless the stamp says it is up to date.
build() {
  local name="$1" dir="$2" inputs="$3"
  shift 4
  local stamp="$out/.stamps/$name" hash
  hash="$( { echo "$go_version"; echo "$*"; (cd "$dir" && cat $inputs); } | sha256sum | cut -d' ' -f1)"
  if [ -x "$out/$name" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    echo "oracles: $name is up to date"
    return
  fi
  echo "oracles: building $name ..."
  local start=$SECONDS
  rm -f "$stamp"
  (cd "$dir" && go build -p "$jobs" -trimpath -o "$out/$name" "$@")
  echo "$hash" >"$stamp"
  echo "oracles: built $name in $((SECONDS - start))s"
}

# Smallest first, so the quick oracles are there even if a big build fails.

# talos-oracle: one binary per Talos line, each from its own lines/<line>.mod.
for mod in "$here"/talos/lines/*.mod; do
  line="$(basename "$mod" .mod)"
  build "talos-oracle-$line" "$here/talos" "main.go lines/$line.mod lines/$line.sum" -- \
    -modfile="lines/$line.mod" -ldflags "-s -w" .
done

build kind "$here/kind" "go.mod go.sum" -- -ldflags "-s -w" sigs.k8s.io/kind

# talosctl: the published modules embed their version tag, so no version ldflags are needed.
build talosctl-v1.11 "$here/talosctl" "go.mod go.sum" -- \
  -tags grpcnotrace -ldflags "-s -w" github.com/siderolabs/talos/cmd/talosctl

# kubectl: the version comes from ldflags, as in Kubernetes' own release builds, so that
# `kubectl version --client` reports the module version it was built from.
kube_version="$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/kubectl/go.mod")"
kube_minor="$(echo "$kube_version" | cut -d. -f2)"
cb=k8s.io/component-base/version
build kubectl "$here/kubectl" "go.mod go.sum" -- -tags grpcnotrace -ldflags "-s -w \
  -X $cb.gitVersion=$kube_version -X $cb.gitMajor=1 -X $cb.gitMinor=$kube_minor \
  -X $cb.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$kube_version \
  -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kube_minor" \
  k8s.io/kubernetes/cmd/kubectl

echo "oracles: all in $out"
