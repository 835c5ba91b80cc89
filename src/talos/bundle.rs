//! The Talos secrets bundle (`talosctl gen secrets` format).
//!
//! A plain value, as in Talos's `secrets/bundle.go`: generated once by `kubectl zt secrets gen`,
//! saved with owner-only permissions, and reloaded by every `render`, which derives all machine
//! config secrets from it and never generates any of its own.
//!
//! Values are kept exactly as they appear in the file (base64 of PEM for certificates and keys)
//! because that is also exactly what the machine config fields want.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Serialize;
use thiserror::Error;
use time::OffsetDateTime;

use super::keys::{KeyAlgorithm, PrivateKey};
use super::pem::{self, LABEL_CERTIFICATE};
use super::pki::{self, CaKind, CertInfo, GeneratedCa, PkiError};
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::fsio::{SECRET_MODE, write_atomic};
use crate::secret::SecretString;
use crate::yaml::decode::{Decoder, join};
use crate::yaml::{self, Node, NodeKind, YamlError};

/// Length in bytes of `cluster.id`, `cluster.secret` and `secretboxencryptionsecret`.
pub const SECRET_LEN: usize = 32;

/// The whole bundle. Field order is `talosctl`'s, so written files diff cleanly against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretsBundle {
    pub cluster: ClusterSecrets,
    pub secrets: Secrets,
    #[serde(rename = "trustdinfo")]
    pub trustd_info: TrustdInfo,
    pub certs: Certs,
}

/// `cluster`: the discovery identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSecrets {
    /// 32 bytes, URL-safe base64 with padding (Talos's `ClusterIDEncoding`).
    pub id: SecretString,
    /// 32 bytes, standard base64.
    pub secret: SecretString,
}

/// `secrets`: Kubernetes bootstrap token and etcd encryption-at-rest key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secrets {
    /// `[a-z0-9]{6}.[a-z0-9]{16}`.
    #[serde(rename = "bootstraptoken")]
    pub bootstrap_token: SecretString,
    /// 32 bytes, standard base64.
    #[serde(rename = "secretboxencryptionsecret")]
    pub secretbox_encryption_secret: SecretString,
}

/// `trustdinfo`: the token nodes present to trustd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustdInfo {
    /// `[a-z0-9]{6}.[a-z0-9]{16}`.
    pub token: SecretString,
}

/// `certs`: the cluster's certificate authorities and the service-account signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certs {
    pub etcd: CertAndKey,
    pub k8s: CertAndKey,
    #[serde(rename = "k8saggregator")]
    pub k8s_aggregator: CertAndKey,
    #[serde(rename = "k8sserviceaccount")]
    pub k8s_service_account: KeyOnly,
    pub os: CertAndKey,
}

/// A CA certificate and its key, each base64 of PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertAndKey {
    pub crt: String,
    pub key: SecretString,
}

/// A key without certificate, base64 of PEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOnly {
    pub key: SecretString,
}

impl From<GeneratedCa> for CertAndKey {
    fn from(ca: GeneratedCa) -> Self {
        CertAndKey {
            crt: ca.crt,
            key: SecretString::new(ca.key),
        }
    }
}

/// Why a bundle could not be written.
#[derive(Debug, Error)]
pub enum BundleWriteError {
    #[error(
        "{}: already exists; pass `--force` to overwrite it (this replaces every cluster secret)",
        path.display()
    )]
    Exists { path: PathBuf },
    #[error("{}: cannot write: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Yaml(#[from] YamlError),
}

impl SecretsBundle {
    /// A fresh bundle: new CAs valid from now for ten years, new tokens and secrets.
    pub fn generate() -> Result<SecretsBundle, PkiError> {
        Self::generate_at(OffsetDateTime::now_utc())
    }

    /// [`Self::generate`] with the CAs' `notBefore` set to `now`.
    pub fn generate_at(now: OffsetDateTime) -> Result<SecretsBundle, PkiError> {
        let service_account = pki::generate_ecdsa_p256_key()?;
        Ok(SecretsBundle {
            cluster: ClusterSecrets {
                id: SecretString::new(URL_SAFE.encode(pki::random_secret()?)),
                secret: SecretString::new(STANDARD.encode(pki::random_secret()?)),
            },
            secrets: Secrets {
                bootstrap_token: SecretString::new(pki::random_token()?),
                secretbox_encryption_secret: SecretString::new(
                    STANDARD.encode(pki::random_secret()?),
                ),
            },
            trustd_info: TrustdInfo {
                token: SecretString::new(pki::random_token()?),
            },
            certs: Certs {
                etcd: pki::generate_ca(CaKind::Etcd, now)?.into(),
                k8s: pki::generate_ca(CaKind::Kubernetes, now)?.into(),
                k8s_aggregator: pki::generate_ca(CaKind::Aggregator, now)?.into(),
                k8s_service_account: KeyOnly {
                    key: SecretString::new(service_account.to_talos_pem_b64().map_err(
                        |source| PkiError::Key {
                            field: "certs.k8sserviceaccount.key",
                            source,
                        },
                    )?),
                },
                os: pki::generate_ca(CaKind::Os, now)?.into(),
            },
        })
    }

    /// The bundle as `talosctl gen secrets` lays it out.
    pub fn to_yaml(&self) -> Result<String, YamlError> {
        yaml::to_string(self)
    }

    /// Reads and fully validates a bundle. Every problem is reported, each with its position and
    /// field; no message contains a secret value.
    pub fn parse(src: &str, file: &Path) -> Result<SecretsBundle, Diagnostics> {
        let root = yaml::parse_document(src)
            .map_err(|e| Diagnostics::from(Diagnostic::new(file, e.pos, "", e.message)))?;
        let mut loader = Loader(Decoder::new(file));
        let bundle = loader.bundle(&root);
        match bundle {
            Some(b) if !loader.0.has_errors() => Ok(b),
            _ => {
                if !loader.0.has_errors() {
                    // Unreachable in practice: every `None` above comes with a diagnostic.
                    loader
                        .0
                        .error(Some(root.pos), "", "incomplete secrets bundle");
                }
                Err(loader.0.finish_sorted())
            }
        }
    }

    /// Reads `path` and [`Self::parse`]s it. A missing file says how to create one.
    pub fn load(path: &Path) -> Result<SecretsBundle, Diagnostics> {
        let bytes = std::fs::read(path).map_err(|e| {
            let message = if e.kind() == io::ErrorKind::NotFound {
                format!(
                    "secrets bundle not found; create one with `kubectl zt secrets gen --out {}`",
                    path.display()
                )
            } else {
                format!("cannot read the secrets bundle: {e}")
            };
            Diagnostics::from(Diagnostic::file(path, message))
        })?;
        let src = String::from_utf8(bytes).map_err(|_| {
            Diagnostics::from(Diagnostic::file(path, "not UTF-8 text; expected YAML"))
        })?;
        Self::parse(&src, path)
    }

    /// Writes the bundle to a new file with mode 0600, atomically. An existing file is only
    /// replaced with `force`: overwriting a bundle orphans every cluster built from it.
    pub fn write_new(&self, path: &Path, force: bool) -> Result<(), BundleWriteError> {
        let text = self.to_yaml()?;
        write_atomic(path, text.as_bytes(), SECRET_MODE, force).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists && !force {
                BundleWriteError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                BundleWriteError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Value checks. Each returns a message that describes the expected form, never the value.

/// `[a-z0-9]{6}.[a-z0-9]{16}`, as Talos generates and Kubernetes expects for bootstrap tokens.
pub fn is_token(s: &str) -> bool {
    let ok = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    match s.split_once('.') {
        Some((id, secret)) => ok(id, 6) && ok(secret, 16),
        None => false,
    }
}

fn check_token(s: &str) -> Result<(), String> {
    if is_token(s) {
        Ok(())
    } else {
        Err("expected a token of the form `[a-z0-9]{6}.[a-z0-9]{16}`".into())
    }
}

fn check_b64_32(engine: &impl base64::Engine, what: &str, s: &str) -> Result<(), String> {
    match engine.decode(s) {
        Ok(bytes) if bytes.len() == SECRET_LEN => Ok(()),
        Ok(bytes) => Err(format!(
            "expected {SECRET_LEN} bytes of {what} base64, found {} bytes",
            bytes.len()
        )),
        Err(_) => Err(format!(
            "not valid {what} base64 (expected {SECRET_LEN} bytes)"
        )),
    }
}

fn check_cluster_id(s: &str) -> Result<(), String> {
    check_b64_32(&URL_SAFE, "URL-safe", s)
}

fn check_std_secret(s: &str) -> Result<(), String> {
    check_b64_32(&STANDARD, "standard", s)
}

/// A CA certificate: parses, has the expected key algorithm and is marked as a CA.
fn check_ca_cert(s: &str, expected: KeyAlgorithm) -> Result<CertInfo, String> {
    let der = pem::decode_b64(s)
        .and_then(|p| p.into_der_labelled(LABEL_CERTIFICATE))
        .map_err(|e| e.to_string())?;
    let info = CertInfo::parse(&der).map_err(|e| e.to_string())?;
    match info.algorithm {
        Some(a) if a == expected => {}
        Some(a) => return Err(format!("expected an {expected} certificate, found {a}")),
        None => {
            return Err(format!(
                "expected an {expected} certificate, found another key algorithm"
            ));
        }
    }
    if !info.is_ca {
        return Err("not a CA certificate (basicConstraints CA:TRUE is missing)".into());
    }
    Ok(info)
}

/// A private key in the exact PEM form Talos writes for `expected`, which ring accepts.
fn check_key(s: &str, expected: KeyAlgorithm) -> Result<PrivateKey, String> {
    let block = pem::decode_b64(s).map_err(|e| e.to_string())?;
    let label = expected.talos_pem_label();
    if block.label != label {
        // Reuse the PEM error so the found label is echoed only when it looks like a label.
        return Err(block
            .into_der_labelled(label)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| format!("expected a PEM block of type `{label}`")));
    }
    let key = PrivateKey::from_pem(&block).map_err(|e| e.to_string())?;
    if key.algorithm() != expected {
        return Err(format!(
            "expected an {expected} key, found {}",
            key.algorithm()
        ));
    }
    key.key_pair().map_err(|e| e.to_string())?;
    Ok(key)
}

/// The service-account key only signs Kubernetes service-account tokens: Talos hands it to
/// kube-apiserver as it is, and we never use it. Talos 1.7 and later generate it as RSA
/// (`RSA PRIVATE KEY`, PKCS#1), earlier releases and `kubectl zt secrets gen` as ECDSA P-256;
/// a bundle made by either must load.
fn check_service_account_key(s: &str) -> Result<(), String> {
    let block = pem::decode_b64(s).map_err(|e| e.to_string())?;
    match block.label.as_str() {
        pem::LABEL_RSA_PRIVATE_KEY => {
            let der = block
                .into_der_labelled(pem::LABEL_RSA_PRIVATE_KEY)
                .map_err(|e| e.to_string())?;
            // ring checks the PKCS#1 structure, the key's consistency and its size.
            ring::rsa::KeyPair::from_der(&der)
                .map(|_| ())
                .map_err(|e| format!("not a usable RSA private key ({e})"))
        }
        pem::LABEL_EC_PRIVATE_KEY => check_key(s, KeyAlgorithm::EcdsaP256).map(|_| ()),
        _ => Err(format!(
            "expected a PEM block of type `{}` or `{}`",
            pem::LABEL_RSA_PRIVATE_KEY,
            pem::LABEL_EC_PRIVATE_KEY
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The loader: walks the positioned tree, collecting every problem.

/// The bundle's reader: the common decoder (every problem at once, capped, keys checked and
/// never echoed when they look like values) plus the bundle's own format checks.
struct Loader(Decoder);

/// A string value with where it was found.
struct Located<'n> {
    text: &'n str,
    pos: Pos,
    field: String,
}

impl Loader {
    fn push(&mut self, pos: Option<Pos>, field: &str, message: impl Into<String>) {
        self.0.error(pos, field, message);
    }

    /// The mapping under `key` of `parent`, checked to hold exactly `keys`.
    fn section<'n>(
        &mut self,
        parent: &'n Node,
        parent_field: &str,
        key: &str,
        keys: &[&str],
    ) -> Option<(&'n Node, String)> {
        let node = parent.get(key)?;
        let field = join(parent_field, key);
        self.0
            .exact_fields(node, &field, keys)
            .map(|f| (f.node(), field))
    }

    /// The non-empty scalar under `key`. Missing keys were already reported by `section`.
    fn string<'n>(
        &mut self,
        parent: &'n Node,
        parent_field: &str,
        key: &str,
    ) -> Option<Located<'n>> {
        let node = parent.get(key)?;
        let field = join(parent_field, key);
        match &node.kind {
            // Any scalar's text is taken as a string, as Talos's Go YAML decoder does for string
            // fields; the format checks below decide whether it is acceptable.
            NodeKind::Scalar(s) if !node.is_null() => Some(Located {
                text: s.text.as_str(),
                pos: node.pos,
                field,
            }),
            NodeKind::Scalar(_) => {
                self.push(Some(node.pos), &field, "is empty");
                None
            }
            _ => {
                self.push(
                    Some(node.pos),
                    &field,
                    format!("expected a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A scalar that must pass `check`.
    fn checked(
        &mut self,
        parent: &Node,
        parent_field: &str,
        key: &str,
        check: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        let v = self.string(parent, parent_field, key)?;
        match check(v.text) {
            Ok(()) => Some(v.text.to_string()),
            Err(m) => {
                self.push(Some(v.pos), &v.field, m);
                None
            }
        }
    }

    fn ca(&mut self, certs: &Node, name: &str, expected: KeyAlgorithm) -> Option<CertAndKey> {
        let (node, field) = self.section(certs, "certs", name, &["crt", "key"])?;
        let crt = self.string(node, &field, "crt");
        let key = self.string(node, &field, "key");
        let info = crt
            .as_ref()
            .and_then(|c| match check_ca_cert(c.text, expected) {
                Ok(info) => Some(info),
                Err(m) => {
                    self.push(Some(c.pos), &c.field, m);
                    None
                }
            });
        let private = key
            .as_ref()
            .and_then(|k| match check_key(k.text, expected) {
                Ok(p) => Some(p),
                Err(m) => {
                    self.push(Some(k.pos), &k.field, m);
                    None
                }
            });
        let (crt, key, info, private) = (crt?, key?, info?, private?);
        match info.matches_key(&private) {
            Ok(true) => Some(CertAndKey {
                crt: crt.text.to_string(),
                key: SecretString::new(key.text),
            }),
            Ok(false) => {
                self.push(
                    Some(key.pos),
                    &key.field,
                    format!("does not match the certificate in {}", crt.field),
                );
                None
            }
            Err(e) => {
                self.push(Some(key.pos), &key.field, e.to_string());
                None
            }
        }
    }

    fn service_account(&mut self, certs: &Node) -> Option<KeyOnly> {
        let (node, field) = self.section(certs, "certs", "k8sserviceaccount", &["key"])?;
        let key = self.string(node, &field, "key")?;
        match check_service_account_key(key.text) {
            Ok(()) => Some(KeyOnly {
                key: SecretString::new(key.text),
            }),
            Err(m) => {
                self.push(Some(key.pos), &key.field, m);
                None
            }
        }
    }

    fn bundle(&mut self, root: &Node) -> Option<SecretsBundle> {
        self.0
            .exact_fields(root, "", &["cluster", "secrets", "trustdinfo", "certs"])?;
        // Every section is checked even after an earlier one failed, so one run reports all
        // problems; the results are only combined at the end.
        let cluster = self
            .section(root, "", "cluster", &["id", "secret"])
            .map(|(n, f)| {
                (
                    self.checked(n, &f, "id", check_cluster_id),
                    self.checked(n, &f, "secret", check_std_secret),
                )
            });
        let secrets = self
            .section(
                root,
                "",
                "secrets",
                &["bootstraptoken", "secretboxencryptionsecret"],
            )
            .map(|(n, f)| {
                (
                    self.checked(n, &f, "bootstraptoken", check_token),
                    self.checked(n, &f, "secretboxencryptionsecret", check_std_secret),
                )
            });
        let trustd = self
            .section(root, "", "trustdinfo", &["token"])
            .map(|(n, f)| self.checked(n, &f, "token", check_token));
        let certs = root.get("certs").and_then(|n| {
            self.0
                .exact_fields(
                    n,
                    "certs",
                    &["etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"],
                )
                .map(|f| f.node())
        });
        let certs = certs.map(|n| {
            (
                self.ca(n, "etcd", CaKind::Etcd.algorithm()),
                self.ca(n, "k8s", CaKind::Kubernetes.algorithm()),
                self.ca(n, "k8saggregator", CaKind::Aggregator.algorithm()),
                self.service_account(n),
                self.ca(n, "os", CaKind::Os.algorithm()),
            )
        });

        let (id, secret) = cluster?;
        let (bootstrap_token, secretbox) = secrets?;
        let (etcd, k8s, aggregator, service_account, os) = certs?;
        Some(SecretsBundle {
            cluster: ClusterSecrets {
                id: SecretString::new(id?),
                secret: SecretString::new(secret?),
            },
            secrets: Secrets {
                bootstrap_token: SecretString::new(bootstrap_token?),
                secretbox_encryption_secret: SecretString::new(secretbox?),
            },
            trustd_info: TrustdInfo {
                token: SecretString::new(trustd??),
            },
            certs: Certs {
                etcd: etcd?,
                k8s: k8s?,
                k8s_aggregator: aggregator?,
                k8s_service_account: service_account?,
                os: os?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talos::pki::admin_client_cert;
    use crate::talos::testdata;
    use std::sync::OnceLock;

    /// Generating five CAs is cheap but not free; most tests only need some valid bundle.
    fn bundle() -> &'static SecretsBundle {
        static B: OnceLock<SecretsBundle> = OnceLock::new();
        B.get_or_init(|| SecretsBundle::generate().unwrap())
    }

    fn file() -> &'static Path {
        Path::new("env/secrets.yaml")
    }

    /// Every secret string in `b`, to prove none of them reaches a message.
    fn secret_values(b: &SecretsBundle) -> Vec<String> {
        let c = &b.certs;
        vec![
            b.cluster.id.expose().to_string(),
            b.cluster.secret.expose().to_string(),
            b.secrets.bootstrap_token.expose().to_string(),
            b.secrets.secretbox_encryption_secret.expose().to_string(),
            b.trustd_info.token.expose().to_string(),
            c.etcd.key.expose().to_string(),
            c.k8s.key.expose().to_string(),
            c.k8s_aggregator.key.expose().to_string(),
            c.k8s_service_account.key.expose().to_string(),
            c.os.key.expose().to_string(),
        ]
    }

    /// Replaces (or, with `None`, deletes) the line holding dotted `path` in our 2-space
    /// indented output; returns the new text and the line's 1-based number.
    fn edit(src: &str, path: &str, value: Option<&str>) -> (String, usize) {
        let want: Vec<&str> = path.split('.').collect();
        let mut stack: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        let mut hit = None;
        for (i, line) in src.lines().enumerate() {
            let depth = (line.len() - line.trim_start().len()) / 2;
            let key = line.trim_start().split(':').next().unwrap_or("");
            stack.truncate(depth);
            stack.push(key);
            if stack == want {
                hit = Some(i + 1);
                if let Some(v) = value {
                    out.push(format!("{}{key}: {v}", "  ".repeat(depth)));
                }
                continue;
            }
            out.push(line.to_string());
        }
        (
            out.join("\n") + "\n",
            hit.unwrap_or_else(|| panic!("{path} not in output")),
        )
    }

    fn value_of(b: &SecretsBundle, path: &str) -> String {
        let text = b.to_yaml().unwrap();
        let want: Vec<&str> = path.split('.').collect();
        let mut stack: Vec<&str> = Vec::new();
        for line in text.lines() {
            let depth = (line.len() - line.trim_start().len()) / 2;
            let (key, v) = line.trim_start().split_once(':').unwrap();
            stack.truncate(depth);
            stack.push(key);
            if stack == want {
                return v.trim().to_string();
            }
        }
        panic!("{path} not in output")
    }

    fn errors(src: &str) -> Vec<Diagnostic> {
        let diags = SecretsBundle::parse(src, file()).unwrap_err();
        let all: Vec<Diagnostic> = diags.into_iter().collect();
        let text: String = all.iter().map(|d| format!("{d}\n")).collect();
        for secret in secret_values(bundle()) {
            assert!(!text.contains(&secret), "a secret leaked into:\n{text}");
        }
        all
    }

    /// The single diagnostic for `field`, which must have a position.
    fn only<'a>(diags: &'a [Diagnostic], field: &str) -> &'a Diagnostic {
        let hits: Vec<&Diagnostic> = diags.iter().filter(|d| d.field == field).collect();
        assert_eq!(hits.len(), 1, "{field}: {diags:#?}");
        assert_eq!(hits[0].file, file());
        assert!(hits[0].pos.is_some(), "{:?}", hits[0]);
        hits[0]
    }

    #[test]
    fn a_flood_of_unknown_keys_is_cut_at_the_cap() {
        let max = crate::yaml::decode::MAX_PROBLEMS;
        let src = crate::yaml::hostile::many_keys(5 * max);
        let diags = SecretsBundle::parse(&src, file()).unwrap_err();
        assert_eq!(diags.len(), max + 1);
        let last = diags.iter().last().unwrap().to_string();
        assert!(
            last.ends_with(&format!(
                "more problems not shown (only the first {max} are reported)"
            )),
            "{last}"
        );
    }

    #[test]
    fn generate_to_yaml_parse_round_trips() {
        let b = bundle();
        let text = b.to_yaml().unwrap();
        assert_eq!(&SecretsBundle::parse(&text, file()).unwrap(), b);
        assert_eq!(
            SecretsBundle::parse(&text, file())
                .unwrap()
                .to_yaml()
                .unwrap(),
            text
        );
    }

    #[test]
    fn yaml_layout_is_talosctls() {
        let text = bundle().to_yaml().unwrap();
        let keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "cluster",
                "  id",
                "  secret",
                "secrets",
                "  bootstraptoken",
                "  secretboxencryptionsecret",
                "trustdinfo",
                "  token",
                "certs",
                "  etcd",
                "    crt",
                "    key",
                "  k8s",
                "    crt",
                "    key",
                "  k8saggregator",
                "    crt",
                "    key",
                "  k8sserviceaccount",
                "    key",
                "  os",
                "    crt",
                "    key",
            ]
        );
    }

    #[test]
    fn generated_values_have_talos_formats() {
        let b = bundle();
        assert!(is_token(b.secrets.bootstrap_token.expose()));
        assert!(is_token(b.trustd_info.token.expose()));
        assert_eq!(URL_SAFE.decode(b.cluster.id.expose()).unwrap().len(), 32);
        assert_eq!(
            STANDARD.decode(b.cluster.secret.expose()).unwrap().len(),
            32
        );
        assert_eq!(
            STANDARD
                .decode(b.secrets.secretbox_encryption_secret.expose())
                .unwrap()
                .len(),
            32
        );
        let label = |v: &str| pem::decode_b64(v).unwrap().label;
        assert_eq!(label(b.certs.os.key.expose()), "ED25519 PRIVATE KEY");
        for v in [
            &b.certs.etcd.key,
            &b.certs.k8s.key,
            &b.certs.k8s_aggregator.key,
            &b.certs.k8s_service_account.key,
        ] {
            assert_eq!(label(v.expose()), "EC PRIVATE KEY");
        }
        let a = SecretsBundle::generate().unwrap();
        assert_ne!(a.cluster.secret, b.cluster.secret);
        assert_ne!(a.secrets.bootstrap_token, b.secrets.bootstrap_token);
    }

    #[test]
    fn token_format_is_exact() {
        assert!(is_token("abc123.0123456789abcdef"));
        for bad in [
            "ABC123.0123456789abcdef",
            "abc12.0123456789abcdef",
            "abc123.0123456789abcde",
            "abc123-0123456789abcdef",
            "abc123.0123456789abcdef.",
            "abc123.0123456789abcde_",
            "",
        ] {
            assert!(!is_token(bad), "{bad}");
        }
    }

    #[test]
    fn talosctl_values_are_accepted() {
        let Some(b) = testdata::controlplane_bundle() else {
            return;
        };
        let text = b.to_yaml().unwrap();
        assert_eq!(SecretsBundle::parse(&text, file()).unwrap(), b);
    }

    #[test]
    fn debug_is_redacted() {
        let b = bundle();
        let s = format!("{b:?}");
        assert!(s.contains("<redacted>"));
        for secret in secret_values(b) {
            assert!(!s.contains(&secret), "{s}");
        }
    }

    #[test]
    fn missing_field_is_reported_at_its_section() {
        let (src, _) = edit(&bundle().to_yaml().unwrap(), "cluster.secret", None);
        let diags = errors(&src);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        let d = only(&diags, "cluster.secret");
        assert_eq!(d.pos, Some(Pos::new(2, 3)));
        assert_eq!(d.message, "required key `secret` is missing");
    }

    #[test]
    fn malformed_base64_is_reported_without_the_value() {
        let bad = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw@@";
        let (src, line) = edit(&bundle().to_yaml().unwrap(), "cluster.secret", Some(bad));
        let diags = errors(&src);
        let d = only(&diags, "cluster.secret");
        assert_eq!(d.pos, Some(Pos::new(line, 11)));
        assert!(d.message.contains("not valid standard base64"), "{d}");
        assert!(!d.to_string().contains(bad), "{d}");

        let short = STANDARD.encode([1u8; 16]);
        let (src, _) = edit(&bundle().to_yaml().unwrap(), "cluster.id", Some(&short));
        let d = errors(&src);
        let d = only(&d, "cluster.id");
        assert!(d.message.contains("found 16 bytes"), "{d}");
        assert!(!d.to_string().contains(&short));
    }

    #[test]
    fn malformed_pem_and_certificate_are_reported() {
        let text = bundle().to_yaml().unwrap();
        let not_pem = STANDARD.encode("hunter2 is not a PEM block");
        let (src, line) = edit(&text, "certs.etcd.key", Some(&not_pem));
        let diags = errors(&src);
        let d = only(&diags, "certs.etcd.key");
        assert_eq!(d.pos.map(|p| p.line), Some(line));
        assert!(d.message.contains("no PEM block"), "{d}");
        assert!(!d.to_string().contains("hunter2"));

        let junk_cert = pem::encode_b64("CERTIFICATE", b"hunter2");
        let (src, _) = edit(&text, "certs.k8s.crt", Some(&junk_cert));
        let d = errors(&src);
        assert_eq!(
            only(&d, "certs.k8s.crt").message,
            "not a valid X.509 certificate"
        );
    }

    #[test]
    fn wrong_pem_type_names_the_expected_one() {
        let b = bundle();
        // The right key in PKCS#8 `PRIVATE KEY` form: valid for ring, not what Talos writes.
        let key = crate::talos::pki::private_key_from_b64("k", b.certs.os.key.expose()).unwrap();
        let pkcs8 = pem::encode_b64("PRIVATE KEY", key.pkcs8_der());
        let (src, line) = edit(&b.to_yaml().unwrap(), "certs.os.key", Some(&pkcs8));
        let diags = errors(&src);
        let d = only(&diags, "certs.os.key");
        assert_eq!(d.pos, Some(Pos::new(line, 10)));
        assert_eq!(
            d.message,
            "expected a PEM block of type `ED25519 PRIVATE KEY`, found `PRIVATE KEY`"
        );
        assert!(!d.to_string().contains(&pkcs8));
    }

    #[test]
    fn key_not_matching_its_certificate_is_reported_at_the_key() {
        let b = bundle();
        let (src, line) = edit(
            &b.to_yaml().unwrap(),
            "certs.etcd.key",
            Some(b.certs.k8s.key.expose()),
        );
        let diags = errors(&src);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        let d = only(&diags, "certs.etcd.key");
        assert_eq!(d.pos.map(|p| p.line), Some(line));
        assert_eq!(
            d.message,
            "does not match the certificate in certs.etcd.crt"
        );
    }

    #[test]
    fn wrong_algorithm_and_non_ca_are_reported() {
        let b = bundle();
        let text = b.to_yaml().unwrap();
        // The k8s (ECDSA) CA where the os (Ed25519) CA belongs.
        let (src, _) = edit(&text, "certs.os.crt", Some(&b.certs.k8s.crt));
        let (src, _) = edit(&src, "certs.os.key", Some(b.certs.k8s.key.expose()));
        let diags = errors(&src);
        assert_eq!(
            only(&diags, "certs.os.crt").message,
            "expected an Ed25519 certificate, found ECDSA P-256"
        );
        assert!(
            only(&diags, "certs.os.key")
                .message
                .contains("`ED25519 PRIVATE KEY`")
        );

        // A matching Ed25519 pair that is not a CA: the admin client certificate.
        let admin = admin_client_cert(b).unwrap();
        let (src, _) = edit(&text, "certs.os.crt", Some(&admin.crt));
        let (src, _) = edit(&src, "certs.os.key", Some(admin.key.expose()));
        let diags = errors(&src);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(
            only(&diags, "certs.os.crt")
                .message
                .starts_with("not a CA certificate")
        );
    }

    #[test]
    fn bad_tokens_are_reported_without_the_value() {
        let text = bundle().to_yaml().unwrap();
        let bad = "Secret.TOKENVALUE1234567";
        let (src, line) = edit(&text, "secrets.bootstraptoken", Some(bad));
        let diags = errors(&src);
        let d = only(&diags, "secrets.bootstraptoken");
        assert_eq!(d.pos, Some(Pos::new(line, 19)));
        assert!(d.message.contains("[a-z0-9]{6}.[a-z0-9]{16}"), "{d}");
        assert!(!d.to_string().contains(bad));
    }

    #[test]
    fn every_problem_is_reported_at_once_in_source_order() {
        let b = bundle();
        let text = b.to_yaml().unwrap();
        let (src, _) = edit(&text, "cluster.id", Some("x"));
        let (src, _) = edit(&src, "trustdinfo.token", None);
        let src = src.replace("trustdinfo:\n", "trustdinfo:\n  tokn: abc\n");
        let (src, _) = edit(&src, "certs.k8s.key", Some(b.certs.etcd.key.expose()));
        let (src, _) = edit(&src, "certs.k8sserviceaccount.key", Some("not-base64"));
        let src = src + "extra: 1\n";
        let diags = errors(&src);
        let fields: Vec<&str> = diags.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "cluster.id",
                "trustdinfo.token",
                "trustdinfo.tokn",
                "certs.k8s.key",
                "certs.k8sserviceaccount.key",
                "extra",
            ],
            "{diags:#?}"
        );
        let tokn = only(&diags, "trustdinfo.tokn");
        assert_eq!(tokn.message, "unknown key `tokn`; did you mean `token`?");
    }

    #[test]
    fn service_account_keys_are_ecdsa_or_rsa_and_must_parse() {
        // Talos 1.7+ writes RSA service-account keys (tests/oracle_* load a real one); a block
        // labelled RSA must still hold a usable key, and other labels name both accepted ones.
        let text = bundle().to_yaml().unwrap();
        let garbage_rsa = pem::encode_b64(pem::LABEL_RSA_PRIVATE_KEY, b"not a key");
        let (src, _) = edit(&text, "certs.k8sserviceaccount.key", Some(&garbage_rsa));
        let d = only(&errors(&src), "certs.k8sserviceaccount.key").clone();
        assert!(d.message.starts_with("not a usable RSA private key"), "{d}");
        let pkcs8 = pem::encode_b64(pem::LABEL_PRIVATE_KEY, b"whatever");
        let (src, _) = edit(&text, "certs.k8sserviceaccount.key", Some(&pkcs8));
        let d = only(&errors(&src), "certs.k8sserviceaccount.key").clone();
        assert_eq!(
            d.message,
            "expected a PEM block of type `RSA PRIVATE KEY` or `EC PRIVATE KEY`"
        );
    }

    #[test]
    fn unknown_keys_that_look_like_values_are_not_echoed() {
        let leaked = "aHVudGVyMi1zdXBlci1zZWNyZXQtdmFsdWU=";
        let src = bundle()
            .to_yaml()
            .unwrap()
            .replace("cluster:\n", &format!("cluster:\n  {leaked}: x\n"));
        let diags = errors(&src);
        let d = only(&diags, "cluster");
        assert_eq!(d.message, "unknown key; known keys: id, secret");
        assert_eq!(d.pos, Some(Pos::new(2, 3)));
        assert!(!d.to_string().contains(leaked));
    }

    #[test]
    fn wrong_shapes_are_reported() {
        let text = bundle().to_yaml().unwrap();
        // `os` is the last section: cut it off and put a list in its place.
        let head = text.split("  os:\n").next().unwrap();
        let src = format!("{head}  os: [a, b]\n");
        let line = src.lines().count();
        let diags = errors(&src);
        let d = only(&diags, "certs.os");
        assert_eq!(d.pos, Some(Pos::new(line, 7)));
        assert!(d.message.contains("found a list"), "{d}");

        let (src, _) = edit(&text, "cluster.id", Some("{a: 1}"));
        let d = errors(&src);
        assert_eq!(
            only(&d, "cluster.id").message,
            "expected a string, found a mapping"
        );

        let (src, _) = edit(&text, "cluster.id", Some("~"));
        let d = errors(&src);
        assert_eq!(only(&d, "cluster.id").message, "is empty");
    }

    #[test]
    fn empty_and_invalid_yaml_are_diagnostics() {
        let diags: Vec<_> = SecretsBundle::parse("", file())
            .unwrap_err()
            .into_iter()
            .collect();
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("is empty"), "{:?}", diags[0]);

        let diags: Vec<_> = SecretsBundle::parse("cluster: [\n", file())
            .unwrap_err()
            .into_iter()
            .collect();
        assert_eq!(diags.len(), 1);
        assert!(diags[0].pos.is_some());
    }

    #[test]
    fn missing_file_says_how_to_create_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.yaml");
        let diags: Vec<_> = SecretsBundle::load(&path)
            .unwrap_err()
            .into_iter()
            .collect();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].file, path);
        assert!(
            diags[0]
                .message
                .contains(&format!("kubectl zt secrets gen --out {}", path.display())),
            "{}",
            diags[0]
        );
    }

    #[cfg(unix)]
    #[test]
    fn write_new_is_private_and_refuses_to_overwrite() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.yaml");
        let b = bundle();
        b.write_new(&path, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(&SecretsBundle::load(&path).unwrap(), b);

        let other = SecretsBundle::generate().unwrap();
        let err = other.write_new(&path, false).unwrap_err();
        assert!(matches!(err, BundleWriteError::Exists { .. }), "{err:?}");
        assert!(err.to_string().contains("pass `--force`"), "{err}");
        assert_eq!(&SecretsBundle::load(&path).unwrap(), b, "must be untouched");

        other.write_new(&path, true).unwrap();
        assert_eq!(SecretsBundle::load(&path).unwrap(), other);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn value_helper_reads_our_output() {
        assert_eq!(
            value_of(bundle(), "trustdinfo.token"),
            bundle().trustd_info.token.expose()
        );
    }
}
