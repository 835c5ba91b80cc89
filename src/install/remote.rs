//! The shell scripts run on the rescue system, and how their answers are read back.
//!
//! Each script is one `bash -c` command line built here, with every value single-quoted. They
//! speak to us through exit codes and `key=value` lines on stdout, never through prose we would
//! have to parse.

/// `value` as one single-quoted shell word.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The start of every script: strict mode, C locale (dd's numbers), and `path_prefix`
/// (directories put in front of the server's PATH) when given.
fn preamble(path_prefix: Option<&str>) -> String {
    let mut s = String::from("set -euo pipefail; export LC_ALL=C; ");
    if let Some(p) = path_prefix {
        s.push_str(&format!("export PATH={}:\"$PATH\"; ", quote(p)));
    }
    s
}

/// Wraps `script` for the login shell: `bash -c '<script>'`.
fn bash(script: &str) -> String {
    format!("bash -c {}", quote(script))
}

/// Exit codes of [`check_disk`].
pub const DISK_MISSING: u32 = 10;
pub const DISK_IS_ROOT: u32 = 11;
pub const DISK_MOUNTED: u32 = 12;

/// Checks `disk` before anything is written: it exists (a block device, or a regular file, which
/// is written like an image), it is not what the running system's root filesystem lives on,
/// and none of its partitions is mounted. Prints `size=<bytes>` and `root=<source>`, then the
/// `lsblk` table (for `-v`).
pub fn check_disk(disk: &str, path_prefix: Option<&str>) -> String {
    let script = format!(
        r#"{pre}disk={disk}
if [ -b "$disk" ]; then kind=block; elif [ -f "$disk" ]; then kind=file; else exit {missing}; fi
real=$(readlink -f -- "$disk")
root=$(findmnt -n -o SOURCE / 2>/dev/null || true)
echo "root=$root"
rootdev=$(readlink -f -- "$root" 2>/dev/null || true)
if [ -n "$rootdev" ] && [ -b "$rootdev" ]; then
  parent=$(lsblk -n -d -o PKNAME "$rootdev" 2>/dev/null | head -n1 || true)
  if [ "$real" = "$rootdev" ] || {{ [ -n "$parent" ] && [ "$real" = "/dev/$parent" ]; }}; then exit {is_root}; fi
fi
if [ "$kind" = block ]; then
  mounted=$(lsblk -n -r -o NAME,MOUNTPOINT "$real" 2>/dev/null | awk '$2 != "" {{print "/dev/" $1 " on " $2}}' || true)
  if [ -n "$mounted" ]; then echo "$mounted"; exit {mounted}; fi
  echo "size=$(blockdev --getsize64 "$real")"
else
  echo "size=$(stat -c %s -- "$real")"
fi
echo "kind=$kind"
lsblk -o NAME,SIZE,TYPE,MOUNTPOINT 2>/dev/null || true
"#,
        pre = preamble(path_prefix),
        disk = quote(disk),
        missing = DISK_MISSING,
        is_root = DISK_IS_ROOT,
        mounted = DISK_MOUNTED,
    );
    bash(&script)
}

/// Where the image comes from, on the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The server downloads it (`curl`).
    Url(String),
    /// We stream it over the SSH channel's stdin (`--talos-image FILE`).
    Stdin,
}

/// Streams the xz image from `fetch` through `xz -d` into `dd` onto `disk` (never truncating:
/// a disk has no length to cut), while a second branch counts and hashes the decompressed
/// stream. Then
/// reads that many bytes back from the disk and hashes them. Prints `pipe=<curl|cat> <xz> <tee>
/// <dd>` exit codes, `written=<bytes>`, `sha256=<stream>` and `readback=<disk>`; dd's progress
/// goes to stderr.
pub fn write_image(disk: &str, fetch: &Fetch, path_prefix: Option<&str>) -> String {
    let source = match fetch {
        Fetch::Url(url) => format!(
            // A download that stalls (under 1 KiB/s for a minute) fails instead of hanging.
            "curl -fsSL --retry 3 --connect-timeout 30 --speed-limit 1024 --speed-time 60 -- {}",
            quote(url)
        ),
        Fetch::Stdin => "cat".to_string(),
    };
    let script = format!(
        r#"{pre}disk={disk}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/hash"
{{ dd if="$tmp/hash" bs=4M 2>"$tmp/count" | sha256sum > "$tmp/sum"; }} & hasher=$!
set +e
{source} | xz -d -c | tee "$tmp/hash" | dd of="$disk" bs=4M iflag=fullblock conv=notrunc,fsync status=progress
codes="${{PIPESTATUS[*]}}"
set -e
wait "$hasher" || true
echo "pipe=$codes"
written=$(grep -Eo '^[0-9]+ bytes' "$tmp/count" | tail -n1 | cut -d' ' -f1 || true)
echo "written=${{written:-0}}"
echo "sha256=$(cut -d' ' -f1 "$tmp/sum")"
if [ "$codes" = "0 0 0 0" ] && [ -n "$written" ]; then
  sync
  # Drop the device's buffered pages, so the read-back comes from the disk, not the cache.
  if [ -b "$disk" ]; then blockdev --flushbufs "$disk" || true; fi
  echo "readback=$(head -c "$written" -- "$disk" | sha256sum | cut -d' ' -f1)"
fi
"#,
        pre = preamble(path_prefix),
        disk = quote(disk),
    );
    bash(&script)
}

/// `sync`, then `reboot`. The connection usually drops before an exit status comes back.
pub fn reboot(path_prefix: Option<&str>) -> String {
    bash(&format!("{}sync; reboot", preamble(path_prefix)))
}

/// The `key=value` lines of a script's stdout.
pub fn fields(stdout: &[u8]) -> std::collections::BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The byte count of the last `N bytes ... copied` progress line in a chunk of dd's stderr.
pub fn progress_bytes(chunk: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(chunk);
    text.split(['\r', '\n'])
        .filter_map(|l| l.trim().split_once(" bytes"))
        .filter_map(|(n, _)| n.parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_any_value_one_word() {
        assert_eq!(quote("/dev/sda"), "'/dev/sda'");
        assert_eq!(quote("a'b; rm -rf /"), r"'a'\''b; rm -rf /'");
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", quote("it's $(x) `y` \"z\""))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $(x) `y` \"z\"");
    }

    #[test]
    fn reads_fields_and_dd_progress() {
        let f = fields(b"pipe=0 0 0 0\nwritten=1048576\nnoise\n");
        assert_eq!(f["pipe"], "0 0 0 0");
        assert_eq!(f["written"], "1048576");
        assert_eq!(
            progress_bytes(b"\r52428800 bytes (52 MB, 50 MiB) copied, 1 s, 52 MB/s\r104857600 bytes (105 MB, 100 MiB) copied, 2 s"),
            Some(104_857_600)
        );
        assert_eq!(
            progress_bytes(b"xz: (stdin): Unexpected end of input"),
            None
        );
    }
}
