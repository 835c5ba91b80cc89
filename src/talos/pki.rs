//! Talos PKI: certificate authorities, key formats and the talosconfig admin certificate.
