//! Installing Talos from a rescue system: log in, check the disk, stream the image onto it,
//! verify what was written, reboot.

use std::collections::BTreeMap;

use super::image::ImageSource;
use super::remote::{self, Fetch};
use super::ssh::{Session, SshError, SshTarget};
use crate::redact;

/// What to install where.
#[derive(Debug, Clone)]
pub struct InstallSpec {
    /// The disk Talos is written to (`install_disk`), e.g. `/dev/nvme0n1`.
    pub disk: String,
    pub image: ImageSource,
    /// Directories put in front of the server's PATH for the remote commands: for rescue
    /// systems that keep tools elsewhere, and for tests (a stand-in `reboot`).
    pub path_prefix: Option<String>,
    /// How long `reboot` may keep the session open before the server counts as rebooting: a
    /// rebooting server may drop the connection without closing it.
    pub reboot_grace: std::time::Duration,
}

/// What happened, for the progress lines.
#[derive(Debug)]
pub enum Event<'a> {
    /// Logged in; the host key the server presented.
    Connected {
        host_key: &'a str,
    },
    /// The disk checked out; `lsblk` of the server (for `-v`).
    DiskChecked {
        size: u64,
        lsblk: &'a str,
    },
    /// Decompressed bytes written so far.
    Progress {
        bytes: u64,
    },
    /// Written and read back: `bytes`, their SHA-256.
    Verified {
        bytes: u64,
        sha256: &'a str,
    },
    Rebooting,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "install disk {disk} does not exist on {host}; nothing was written (check install_disk in talos-values.yaml against `lsblk` in the rescue system)"
    )]
    DiskMissing { disk: String, host: String },
    #[error(
        "install disk {disk} is what the running system's root filesystem ({root}) lives on; refusing to overwrite it, nothing was written"
    )]
    DiskIsRoot { disk: String, root: String },
    #[error(
        "install disk {disk} has mounted filesystems ({mounts}); refusing to overwrite it, nothing was written"
    )]
    DiskMounted { disk: String, mounts: String },
    #[error(
        "cannot download the Talos image {url} on the server: {message}; nothing was written to {disk}"
    )]
    Download {
        url: String,
        message: String,
        disk: String,
    },
    #[error(
        "the Talos image {image} is not a complete xz image ({message}); {written} bytes of it were written to {disk}, which now holds a partial image: rerun to write it again"
    )]
    Corrupt {
        image: String,
        message: String,
        written: u64,
        disk: String,
    },
    #[error("writing to {disk} failed: {message}")]
    DiskWrite { disk: String, message: String },
    #[error(
        "{disk} does not hold what was written: {bytes} bytes with SHA-256 {expected} were written, reading them back gives {found}"
    )]
    Verify {
        disk: String,
        bytes: u64,
        expected: String,
        found: String,
    },
    #[error("cannot read the local Talos image {path}: {message}")]
    LocalImage { path: String, message: String },
    #[error("{step} on {host} failed (exit {status}): {stderr}")]
    Remote {
        step: &'static str,
        host: String,
        status: String,
        stderr: String,
    },
}

/// The last meaningful line of a command's stderr, with URL credentials cut.
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .split(['\r', '\n'])
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.contains(" bytes (")
                && !l.ends_with("records in")
                && !l.ends_with("records out")
        })
        .unwrap_or("no message");
    redact::url_credentials(line)
}

/// The lines of stderr that name a program (`xz: ...`, `curl: ...`, `dd: ...`).
fn line_of(stderr: &[u8], program: &str) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.split(['\r', '\n'])
        .rfind(|l| l.starts_with(&format!("{program}:")))
        .map(redact::url_credentials)
}

fn status_text(s: Option<u32>) -> String {
    s.map_or_else(|| "none: the connection closed".into(), |s| s.to_string())
}

/// Installs Talos: see the module docs. `on_event` hears about each step.
pub async fn install(
    target: &SshTarget,
    spec: &InstallSpec,
    on_event: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<(), InstallError> {
    let host = target.addr.to_string();
    let session = Session::connect(target).await?;
    on_event(Event::Connected {
        host_key: session.host_key(),
    });
    let prefix = spec.path_prefix.as_deref();

    let out = session
        .run(&remote::check_disk(&spec.disk, prefix), None, &mut |_| {})
        .await?;
    let f = remote::fields(&out.stdout);
    match out.status {
        Some(0) => {}
        Some(remote::DISK_MISSING) => {
            return Err(InstallError::DiskMissing {
                disk: spec.disk.clone(),
                host,
            });
        }
        Some(remote::DISK_IS_ROOT) => {
            return Err(InstallError::DiskIsRoot {
                disk: spec.disk.clone(),
                root: f.get("root").cloned().unwrap_or_default(),
            });
        }
        Some(remote::DISK_MOUNTED) => {
            let mounts = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains(" on "))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(InstallError::DiskMounted {
                disk: spec.disk.clone(),
                mounts,
            });
        }
        other => {
            return Err(InstallError::Remote {
                step: "checking the install disk",
                host,
                status: status_text(other),
                stderr: last_line(&out.stderr),
            });
        }
    }
    let size = f.get("size").and_then(|s| s.parse().ok()).unwrap_or(0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lsblk: String = stdout
        .lines()
        .skip_while(|l| !l.starts_with("kind="))
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n");
    on_event(Event::DiskChecked {
        size,
        lsblk: &lsblk,
    });

    let (fetch, stdin): (Fetch, Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>) = match &spec
        .image
    {
        ImageSource::Url(u) => (Fetch::Url(u.clone()), None),
        ImageSource::File(p) => {
            let file = tokio::fs::File::open(p)
                .await
                .map_err(|e| InstallError::LocalImage {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
            (Fetch::Stdin, Some(Box::new(file)))
        }
    };
    let mut report = |chunk: &[u8]| {
        if let Some(bytes) = remote::progress_bytes(chunk) {
            on_event(Event::Progress { bytes });
        }
    };
    let out = session
        .run(
            &remote::write_image(&spec.disk, &fetch, prefix),
            stdin,
            &mut report,
        )
        .await?;
    let f: BTreeMap<String, String> = remote::fields(&out.stdout);
    let codes: Vec<u32> = f
        .get("pipe")
        .map(|p| {
            p.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let written: u64 = f.get("written").and_then(|w| w.parse().ok()).unwrap_or(0);
    let image = spec.image.to_string();
    if let (Some(e), ImageSource::File(p)) = (&out.stdin_error, &spec.image) {
        return Err(InstallError::LocalImage {
            path: p.display().to_string(),
            message: format!("{e} ({written} bytes of it reached {})", spec.disk),
        });
    }
    if codes.len() != 4 || out.status != Some(0) {
        return Err(InstallError::Remote {
            step: "writing the image",
            host,
            status: status_text(out.status),
            stderr: last_line(&out.stderr),
        });
    }
    if codes[0] != 0 && written == 0 {
        return Err(match &spec.image {
            ImageSource::Url(_) => InstallError::Download {
                url: image,
                message: line_of(&out.stderr, "curl").unwrap_or_else(|| last_line(&out.stderr)),
                disk: spec.disk.clone(),
            },
            ImageSource::File(p) => InstallError::LocalImage {
                path: p.display().to_string(),
                message: last_line(&out.stderr),
            },
        });
    }
    if codes[1] != 0 {
        return Err(InstallError::Corrupt {
            image,
            message: line_of(&out.stderr, "xz").unwrap_or_else(|| last_line(&out.stderr)),
            written,
            disk: spec.disk.clone(),
        });
    }
    if codes[3] != 0 || codes[2] != 0 {
        return Err(InstallError::DiskWrite {
            disk: spec.disk.clone(),
            message: line_of(&out.stderr, "dd").unwrap_or_else(|| last_line(&out.stderr)),
        });
    }
    if codes[0] != 0 {
        // The download failed after xz had a complete stream: a server that closed late.
        return Err(InstallError::Download {
            url: image,
            message: line_of(&out.stderr, "curl").unwrap_or_else(|| last_line(&out.stderr)),
            disk: spec.disk.clone(),
        });
    }
    let expected = f.get("sha256").cloned().unwrap_or_default();
    let found = f.get("readback").cloned().unwrap_or_default();
    if written == 0 || expected.len() != 64 || expected != found {
        return Err(InstallError::Verify {
            disk: spec.disk.clone(),
            bytes: written,
            expected,
            found,
        });
    }
    on_event(Event::Verified {
        bytes: written,
        sha256: &expected,
    });

    on_event(Event::Rebooting);
    // Silence for `reboot_grace` counts as rebooting (see InstallSpec).
    let command = remote::reboot(prefix);
    let mut quiet = |_: &[u8]| {};
    let reboot = session.run(&command, None, &mut quiet);
    match tokio::time::timeout(spec.reboot_grace, reboot).await {
        Err(_) => {}
        // The server went away while rebooting, before or after saying so.
        Ok(Ok(o)) if o.status.is_none_or(|s| s == 0) => {}
        Ok(Err(SshError::Session { .. })) => {}
        Ok(Ok(o)) => {
            return Err(InstallError::Remote {
                step: "rebooting",
                host,
                status: status_text(o.status),
                stderr: last_line(&o.stderr),
            });
        }
        Ok(Err(e)) => return Err(e.into()),
    }
    session.close().await;
    Ok(())
}
