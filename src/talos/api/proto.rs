//! Rust types generated from `proto/` by build.rs (prost + tonic), plus the hand-written `Debug`
//! of the two messages that carry secrets.

use std::fmt;

/// `google.rpc.Status`, referenced by `common.Metadata`.
pub mod google {
    pub mod rpc {
        #![allow(clippy::all, clippy::pedantic)]
        tonic::include_proto!("google.rpc");
    }
}

/// Talos's `common` package: the per-node reply envelope and streamed data chunks.
pub mod common {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("common");
}

/// Talos's `machine` package: `MachineService` client and server stubs and its messages.
pub mod machine {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("machine");
}

// A machine config holds the cluster's CA keys and tokens: never print it.
impl fmt::Debug for machine::ApplyConfigurationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyConfigurationRequest")
            .field(
                "data",
                &format_args!("<redacted> ({} bytes)", self.data.len()),
            )
            .field("mode", &self.mode())
            .field("dry_run", &self.dry_run)
            .field("try_mode_timeout", &self.try_mode_timeout)
            .finish()
    }
}

// Chunks of the kubeconfig archive: the admin credentials of the cluster.
impl fmt::Debug for common::Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Data")
            .field("metadata", &self.metadata)
            .field(
                "bytes",
                &format_args!("<redacted> ({} bytes)", self.bytes.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn debug_never_prints_config_or_kubeconfig_bytes() {
        let req = machine::ApplyConfigurationRequest {
            data: b"machine:\n  token: abcdef.0123456789abcdef\n".to_vec(),
            mode: machine::apply_configuration_request::Mode::Auto as i32,
            dry_run: true,
            try_mode_timeout: None,
        };
        let text = format!("{req:?}");
        assert!(!text.contains("abcdef"), "{text}");
        assert!(text.contains("<redacted> (42 bytes)"), "{text}");
        assert!(
            text.contains("Auto") && text.contains("dry_run: true"),
            "{text}"
        );

        let chunk = common::Data {
            metadata: None,
            bytes: b"client-key-data: c2VjcmV0".to_vec(),
        };
        let text = format!("{chunk:?}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
    }

    /// The wire format is what talks to real nodes: pin the field numbers from
    /// shared/talos-api.md by decoding hand-assembled protobuf bytes.
    #[test]
    fn field_numbers_match_talos() {
        // ApplyConfigurationRequest: 1 bytes data, 4 enum mode, 5 bool dry_run,
        // 6 Duration try_mode_timeout { 1 int64 seconds }.
        let wire = [
            0x0a, 0x02, b'h', b'i', // field 1, length-delimited, "hi"
            0x20, 0x03, // field 4, varint 3 (STAGED)
            0x28, 0x01, // field 5, varint 1
            0x32, 0x02, 0x08, 0x3c, // field 6, message { seconds: 60 }
        ];
        let req = machine::ApplyConfigurationRequest::decode(&wire[..]).unwrap();
        assert_eq!(req.data, b"hi");
        assert_eq!(
            req.mode(),
            machine::apply_configuration_request::Mode::Staged
        );
        assert!(req.dry_run);
        assert_eq!(req.try_mode_timeout.map(|d| d.seconds), Some(60));
        assert_eq!(req.encode_to_vec(), wire);

        // ApplyConfiguration: 1 Metadata { 1 hostname, 2 error, 3 Status { 1 code, 2 message } },
        // 2 warnings, 3 mode, 4 mode_details.
        let wire = [
            0x0a, 0x0b, // field 1, 11 bytes of Metadata
            0x0a, 0x02, b'c', b'p', // hostname "cp"
            0x12, 0x01, b'e', // error "e"
            0x1a, 0x02, 0x08, 0x05, // status { code: 5 }
            0x12, 0x01, b'w', // warnings ["w"]
            0x18, 0x01, // mode AUTO
            0x22, 0x01, b'd', // mode_details "d"
        ];
        let msg = machine::ApplyConfiguration::decode(&wire[..]).unwrap();
        let meta = msg.metadata.clone().unwrap();
        assert_eq!((meta.hostname.as_str(), meta.error.as_str()), ("cp", "e"));
        assert_eq!(meta.status.map(|s| s.code), Some(5));
        assert_eq!(msg.warnings, ["w"]);
        assert_eq!(msg.mode(), machine::apply_configuration_request::Mode::Auto);
        assert_eq!(msg.mode_details, "d");

        // BootstrapRequest: 1 recover_etcd, 2 recover_skip_hash_check.
        let req = machine::BootstrapRequest::decode(&[0x08, 0x01, 0x10, 0x01][..]).unwrap();
        assert!(req.recover_etcd && req.recover_skip_hash_check);

        // Version: 2 VersionInfo { 1 tag, 6 arch }, 3 PlatformInfo { 1 name, 2 mode },
        // 4 FeaturesInfo { 1 rbac }.
        let wire = [
            0x12, 0x06, 0x0a, 0x01, b't', 0x32, 0x01, b'a', // version
            0x1a, 0x06, 0x0a, 0x01, b'n', 0x12, 0x01, b'm', // platform
            0x22, 0x02, 0x08, 0x01, // features
        ];
        let v = machine::Version::decode(&wire[..]).unwrap();
        let info = v.version.unwrap();
        assert_eq!((info.tag.as_str(), info.arch.as_str()), ("t", "a"));
        let platform = v.platform.unwrap();
        assert_eq!((platform.name.as_str(), platform.mode.as_str()), ("n", "m"));
        assert!(v.features.unwrap().rbac);

        // common.Data: 1 metadata, 2 bytes.
        let d = common::Data::decode(&[0x12, 0x02, 0xff, 0x00][..]).unwrap();
        assert_eq!(d.bytes, [0xff, 0x00]);
    }

    #[test]
    fn service_paths_match_talos() {
        use machine::machine_service_server::SERVICE_NAME;
        assert_eq!(SERVICE_NAME, "machine.MachineService");
    }
}
