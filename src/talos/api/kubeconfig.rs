//! The `Kubeconfig` reply: a gzipped tar archive, streamed in chunks, holding one regular file
//! named `kubeconfig`. Reassembled in memory (it is a few kilobytes) with hard limits, so a
//! misbehaving server cannot make us allocate without bound.

use std::io::Read;

use flate2::read::GzDecoder;
use thiserror::Error;

use crate::secret::SecretBytes;

/// Largest archive we accept, compressed. A real one is about 2 KiB.
pub const MAX_ARCHIVE_BYTES: usize = 4 << 20;
/// Largest kubeconfig we accept, uncompressed.
pub const MAX_KUBECONFIG_BYTES: u64 = 4 << 20;

/// What was wrong with the archive. Fixed wording: library messages could quote archive bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KubeconfigError {
    #[error("the node sent an empty archive")]
    Empty,
    #[error("the archive is larger than {MAX_ARCHIVE_BYTES} bytes")]
    ArchiveTooLarge,
    #[error("the archive is not valid gzip")]
    Gzip,
    #[error("the archive is not a valid tar file")]
    Tar,
    #[error("the archive holds no `kubeconfig` file")]
    Missing,
    #[error("the kubeconfig is larger than {MAX_KUBECONFIG_BYTES} bytes")]
    KubeconfigTooLarge,
    #[error("the kubeconfig file is empty")]
    EmptyKubeconfig,
}

/// Collects the chunks of the streamed archive, refusing to grow past [`MAX_ARCHIVE_BYTES`].
#[derive(Default)]
pub(crate) struct ArchiveBuffer(Vec<u8>);

impl ArchiveBuffer {
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), KubeconfigError> {
        if self.0.len().saturating_add(chunk.len()) > MAX_ARCHIVE_BYTES {
            return Err(KubeconfigError::ArchiveTooLarge);
        }
        self.0.extend_from_slice(chunk);
        Ok(())
    }

    pub fn finish(self) -> Result<SecretBytes, KubeconfigError> {
        extract(&self.0)
    }
}

/// The `kubeconfig` file of a gzipped tar archive.
pub fn extract(archive_gz: &[u8]) -> Result<SecretBytes, KubeconfigError> {
    if archive_gz.is_empty() {
        return Err(KubeconfigError::Empty);
    }
    // Decompress fully first so gzip corruption is reported as such, not as a tar error.
    let mut tar_bytes = Vec::new();
    GzDecoder::new(archive_gz)
        .take(MAX_KUBECONFIG_BYTES.saturating_mul(4))
        .read_to_end(&mut tar_bytes)
        .map_err(|_| KubeconfigError::Gzip)?;

    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let entries = archive.entries().map_err(|_| KubeconfigError::Tar)?;
    for entry in entries {
        let mut entry = entry.map_err(|_| KubeconfigError::Tar)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let is_kubeconfig = entry
            .path()
            .map_err(|_| KubeconfigError::Tar)?
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str())
            .eq([std::ffi::OsStr::new("kubeconfig")]);
        if !is_kubeconfig {
            continue;
        }
        if entry.size() > MAX_KUBECONFIG_BYTES {
            return Err(KubeconfigError::KubeconfigTooLarge);
        }
        let mut out = Vec::new();
        entry
            .read_to_end(&mut out)
            .map_err(|_| KubeconfigError::Tar)?;
        if out.is_empty() {
            return Err(KubeconfigError::EmptyKubeconfig);
        }
        return Ok(SecretBytes::new(out));
    }
    Err(KubeconfigError::Missing)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn archive(files: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        for (name, kind, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const KUBECONFIG: &[u8] = b"apiVersion: v1\nkind: Config\nusers:\n- name: admin\n";

    #[test]
    fn finds_the_kubeconfig_among_other_entries() {
        let gz = archive(&[
            ("./", tar::EntryType::Directory, b""),
            ("README", tar::EntryType::Regular, b"not this"),
            ("./kubeconfig", tar::EntryType::Regular, KUBECONFIG),
        ]);
        assert_eq!(extract(&gz).unwrap().expose(), KUBECONFIG);
        let gz = archive(&[("kubeconfig", tar::EntryType::Regular, KUBECONFIG)]);
        assert_eq!(extract(&gz).unwrap().expose(), KUBECONFIG);
    }

    #[test]
    fn reassembles_from_any_chunking() {
        let gz = archive(&[("kubeconfig", tar::EntryType::Regular, KUBECONFIG)]);
        for size in [1, 7, 512, gz.len()] {
            let mut buf = ArchiveBuffer::default();
            for chunk in gz.chunks(size) {
                buf.push(chunk).unwrap();
            }
            assert_eq!(
                buf.finish().unwrap().expose(),
                KUBECONFIG,
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_kubeconfig_archive() {
        assert_eq!(extract(b""), Err(KubeconfigError::Empty));
        assert_eq!(extract(b"plain text"), Err(KubeconfigError::Gzip));
        // Valid gzip around garbage that is not tar.
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&[0x41; 1024]).unwrap();
        assert_eq!(extract(&enc.finish().unwrap()), Err(KubeconfigError::Tar));
        // A gzip stream cut short.
        let gz = archive(&[("kubeconfig", tar::EntryType::Regular, KUBECONFIG)]);
        assert_eq!(extract(&gz[..gz.len() / 2]), Err(KubeconfigError::Gzip));
        // Right name, wrong kind of entry; other names; nested paths.
        let gz = archive(&[
            ("kubeconfig", tar::EntryType::Directory, b""),
            ("talosconfig", tar::EntryType::Regular, b"x"),
            ("etc/kubeconfig", tar::EntryType::Regular, KUBECONFIG),
        ]);
        assert_eq!(extract(&gz), Err(KubeconfigError::Missing));
        let gz = archive(&[("kubeconfig", tar::EntryType::Regular, b"")]);
        assert_eq!(extract(&gz), Err(KubeconfigError::EmptyKubeconfig));
    }

    #[test]
    fn limits_are_enforced() {
        let mut buf = ArchiveBuffer::default();
        buf.push(&vec![0; MAX_ARCHIVE_BYTES]).unwrap();
        assert_eq!(buf.push(&[0]), Err(KubeconfigError::ArchiveTooLarge));

        let big = vec![b'a'; MAX_KUBECONFIG_BYTES as usize + 1];
        let gz = archive(&[("kubeconfig", tar::EntryType::Regular, &big)]);
        assert_eq!(extract(&gz), Err(KubeconfigError::KubeconfigTooLarge));
    }
}
