// Marks the module root only. Every build selects a Talos line with -modfile=lines/<line>.mod
// (tests/oracles/build.sh); this file is never read for dependencies.
module zt.local/oracles/talos-oracle

go 1.24.0
