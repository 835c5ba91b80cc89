//! `bootstrap --bare-metal` / `--hetzner`: the flags turned into the bare-metal stages' shared
//! inputs (key, host-key policy, image, Hetzner client). Every problem is named with its flag.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use zt::bootstrap::stages::install::BareMetal;
use zt::install::hetzner::{Hetzner, TOKEN_ENV};
use zt::install::image::{ImageSource, factory_url};
use zt::install::rescue::ActionTiming;
use zt::install::{HostKeyMemory, SshAuth};
use zt::secret::SecretString;
use zt::tenant::EnvValues;

use crate::CommandError;
use crate::args::BareMetalArgs;

/// `None` without --bare-metal and --hetzner (then no other bare-metal flag may be given).
pub fn inputs(
    args: &BareMetalArgs,
    values: &EnvValues,
) -> Result<Option<Arc<BareMetal>>, CommandError> {
    if !args.enabled() {
        let stray = args.stray();
        if !stray.is_empty() {
            return Err(anyhow!(
                "{} only apply when starting from bare metal: add --bare-metal (or --hetzner)",
                stray.join(", ")
            )
            .into());
        }
        return Ok(None);
    }
    let ssh_key = match &args.ssh_key {
        Some(path) => Some((
            path.clone(),
            SshAuth::key_file(path).map_err(|e| anyhow!("--ssh-key: {e}"))?,
        )),
        None => None,
    };
    if let Some(f) = &args.ssh_known_hosts
        && !f.is_file()
    {
        return Err(anyhow!("--ssh-known-hosts {}: no such file", f.display()).into());
    }
    let image = match (&args.talos_image, &args.talos_image_url) {
        (Some(file), _) if !file.is_file() => {
            return Err(anyhow!("--talos-image {}: no such file", file.display()).into());
        }
        (Some(file), _) => ImageSource::File(file.clone()),
        (None, Some(url)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            return Err(anyhow!(
                "--talos-image-url {}: expected an http(s):// URL of an xz-compressed raw image",
                zt::redact::url_credentials(url)
            )
            .into());
        }
        (None, Some(url)) => ImageSource::Url(url.clone()),
        (None, None) => ImageSource::Url(factory_url(
            &values.talos.version.to_string(),
            values.talos.schematic.as_deref(),
            "amd64",
        )),
    };
    let mut ssh_endpoints = BTreeMap::new();
    for spec in &args.ssh_endpoints {
        let Some((node, addr)) = spec.split_once('=') else {
            return Err(anyhow!("--ssh-endpoint {spec}: expected NODE=IP:PORT").into());
        };
        if !values.machines().any(|m| m.name == node) {
            return Err(anyhow!(
                "--ssh-endpoint {spec}: no node `{node}` in environment {}",
                values.env
            )
            .into());
        }
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| anyhow!("--ssh-endpoint {spec}: expected NODE=IP:PORT"))?;
        ssh_endpoints.insert(node.to_string(), addr);
    }
    let hetzner = if args.hetzner {
        let token = std::env::var(TOKEN_ENV).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(anyhow!(
                "--hetzner needs a Hetzner Cloud API token (read/write) in {TOKEN_ENV}"
            )
            .into());
        }
        Some(
            Hetzner::new(&args.hetzner_endpoint, SecretString::new(token))
                .map_err(|e| anyhow!(e))?,
        )
    } else {
        None
    };
    Ok(Some(Arc::new(BareMetal {
        ssh_key,
        known_hosts: args.ssh_known_hosts.clone(),
        host_keys: HostKeyMemory::default(),
        image,
        hetzner,
        path_prefix: args.rescue_path.clone(),
        ssh_endpoints,
        api_passwords: Mutex::new(BTreeMap::new()),
        ssh_timeout: Duration::from_secs(30),
        hetzner_actions: ActionTiming {
            timeout: Duration::from_secs(300),
            interval: Duration::from_secs(2),
        },
    })))
}
