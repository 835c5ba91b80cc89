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

# Kubernetes components: the version comes from ldflags, as in Kubernetes' own release builds,
# so that `kubectl version --client` and `kube-apiserver --version` report the module version
# they were built from.
kube_ldflags() {
  local v minor cb=k8s.io/component-base/version cg=k8s.io/client-go/pkg/version
  v="$(cd "$1" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  minor="$(echo "$v" | cut -d. -f2)"
  echo "-s -w -X $cb.gitVersion=$v -X $cb.gitMajor=1 -X $cb.gitMinor=$minor \
  -X $cb.gitTreeState=clean -X $cg.gitVersion=$v -X $cg.gitMajor=1 -X $cg.gitMinor=$minor"
}
build kubectl "$here/kubectl" "go.mod go.sum" -- -tags grpcnotrace \
  -ldflags "$(kube_ldflags "$here/kubectl")" k8s.io/kubernetes/cmd/kubectl

# etcd: the published module embeds its version, like talosctl.
build etcd "$here/etcd" "go.mod go.sum" -- -ldflags "-s -w" go.etcd.io/etcd/server/v3

# kwok: its own module (it needs newer k8s.io libraries than the control plane); its version
# is a constant in its source.
build kwok "$here/kwok" "go.mod go.sum" -- -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok
# kwok's stage files (node-initialize, node-heartbeat, pod-ready, ...) stay in the module cache;
# the tests read them from the directory recorded here.
(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) >"$out/kwok-module-dir"

# Argo CD: the multi-call `argocd` binary (the tests run it as argocd-application-controller and
# argocd-repo-server through ARGOCD_BINARY_NAME). Version ldflags as Argo CD's Makefile sets
# them, from the pinned module: `argocd version --client` says v3.2.11+unknown (the proxy does
# not say which commit the tag is, so none is claimed). The tests read its manifests/ (CRDs,
# install.yaml) from the module cache, at the directory recorded in argocd-module-dir.
argocd_dir="$(cd "$here/argocd" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
if [ -z "$argocd_dir" ] || [ ! -f "$argocd_dir/manifests/install.yaml" ]; then
  (cd "$here/argocd" && go mod download github.com/argoproj/argo-cd/v3)
  argocd_dir="$(cd "$here/argocd" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
fi
if [ -z "$argocd_dir" ] || [ ! -f "$argocd_dir/manifests/install.yaml" ]; then
  echo "oracles: could not download Argo CD's module (see tests/oracles/argocd/go.mod)" >&2
  exit 1
fi
echo "$argocd_dir" >"$out/argocd-module-dir"

# The control plane: one wrapper module, one binary per component (the build cache shares
# the common packages).
for component in kube-apiserver kube-controller-manager kube-scheduler; do
  build "$component" "$here/control-plane" "go.mod go.sum" -- -tags grpcnotrace \
    -ldflags "$(kube_ldflags "$here/control-plane")" "k8s.io/kubernetes/cmd/$component"
done

# kustomize: the CLI Argo CD's repo-server runs for kustomize paths, at the version Argo CD
# ships; it reports its version from the module's build info.
build kustomize "$here/kustomize" "go.mod go.sum" -- -ldflags "-s -w" \
  sigs.k8s.io/kustomize/kustomize/v5

argocd_ldflags() {
  local v kubectl pkg=github.com/argoproj/argo-cd/v3/common
  v="$(cd "$here/argocd" && go list -m -f '{{.Version}}' github.com/argoproj/argo-cd/v3)"
  kubectl="$(cd "$here/argocd" && go list -m -f '{{.Version}}' k8s.io/kubectl)"
  echo "-s -w -X $pkg.version=${v#v} -X $pkg.gitTag=$v -X $pkg.gitTreeState=clean \
  -X $pkg.kubectlVersion=$kubectl"
}
# The biggest build (about 150 MB), so last.
build argocd "$here/argocd" "go.mod go.sum" -- -ldflags "$(argocd_ldflags)" \
  github.com/argoproj/argo-cd/v3/cmd

echo "oracles: all in $out"
