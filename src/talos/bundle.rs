//! The Talos secrets bundle (`talosctl gen secrets` format).
