// Not built: Argo CD's module is downloaded for its manifests/ (install.yaml and the CRDs),
// which the bootstrap tests apply to the test control plane. Only this module's own checksum
// is in go.sum; build.sh downloads it alone and records its directory in argocd-module-dir.
module zt.local/oracles/argocd

go 1.24.0

require github.com/argoproj/argo-cd/v3 v3.2.12
