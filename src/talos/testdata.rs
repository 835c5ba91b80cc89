//! Test access to real `talosctl gen config` output (fake keys) kept outside the project in
//! `../shared/schemas/talos/v1.11/testdata`. CI has that tree; a fresh clone does not, so every
//! caller treats `None` as "skip" — unless `ZT_REQUIRE_SHARED` is set (CI sets it), which makes
//! a missing tree a failure.

use std::path::PathBuf;

use super::bundle::{
    CertAndKey, Certs, ClusterSecrets, KeyOnly, Secrets, SecretsBundle, TrustdInfo,
};
use crate::secret::SecretString;
use crate::yaml::{self, Node};

pub fn dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas/talos/v1.11/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("ZT_REQUIRE_SHARED").is_some() {
        panic!(
            "ZT_REQUIRE_SHARED is set but {} does not exist",
            dir.display()
        );
    }
    eprintln!(
        "{} not present: skipping the comparison with talosctl output",
        dir.display()
    );
    None
}

fn text(node: &Node, path: &[&str]) -> String {
    let mut n = node;
    for key in path {
        n = n
            .get(key)
            .unwrap_or_else(|| panic!("testdata lacks {}", path.join(".")));
    }
    n.as_scalar()
        .unwrap_or_else(|| panic!("testdata {} is not a scalar", path.join(".")))
        .text
        .clone()
}

/// The first document of a testdata machine config.
pub fn machine_config(name: &str) -> Option<Node> {
    let src = std::fs::read_to_string(dir()?.join(name)).ok()?;
    yaml::parse_stream(&src).ok()?.into_iter().next()
}

/// The secrets bundle a `talosctl gen config` controlplane config was made from, read back out
/// of the places Talos puts each value (see talos-api.md, "Where bundle values land").
pub fn controlplane_bundle() -> Option<SecretsBundle> {
    let doc = machine_config("base-controlplane.yaml")?;
    let pair = |path: &[&str]| {
        let mut crt = path.to_vec();
        crt.push("crt");
        let mut key = path.to_vec();
        key.push("key");
        CertAndKey {
            crt: text(&doc, &crt),
            key: SecretString::new(text(&doc, &key)),
        }
    };
    Some(SecretsBundle {
        cluster: ClusterSecrets {
            id: SecretString::new(text(&doc, &["cluster", "id"])),
            secret: SecretString::new(text(&doc, &["cluster", "secret"])),
        },
        secrets: Secrets {
            bootstrap_token: SecretString::new(text(&doc, &["cluster", "token"])),
            secretbox_encryption_secret: SecretString::new(text(
                &doc,
                &["cluster", "secretboxEncryptionSecret"],
            )),
        },
        trustd_info: TrustdInfo {
            token: SecretString::new(text(&doc, &["machine", "token"])),
        },
        certs: Certs {
            etcd: pair(&["cluster", "etcd", "ca"]),
            k8s: pair(&["cluster", "ca"]),
            k8s_aggregator: pair(&["cluster", "aggregatorCA"]),
            k8s_service_account: KeyOnly {
                key: SecretString::new(text(&doc, &["cluster", "serviceAccount", "key"])),
            },
            os: pair(&["machine", "ca"]),
        },
    })
}
