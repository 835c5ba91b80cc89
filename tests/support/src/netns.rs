//! A network namespace of the test's own, with a private address the test control plane can
//! reach: the API server's service proxy refuses loopback endpoints, so a server the proxy must
//! reach cannot listen on 127.0.0.1. [`NetNs::new`] creates the namespace, a veth pair and a /30
//! in 10.213.0.0/16 (a range nothing here uses; checked against the host's routes) with the
//! host at `.1` and the namespace at `.2`; [`NetNs::spawn`] runs a process inside it.
//!
//! Everything is removed when the value is dropped (processes killed, the veth pair and the
//! namespace deleted), also when the test panics. What a test binary killed by a signal left
//! behind is removed by the next one.
//!
//! Needs root (`ip netns`): without it the test skips with one line, unless
//! `ZT_REQUIRE_ORACLES` is set (CI runs as root), then it fails.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace and the processes started in it.
pub struct NetNs {
    name: String,
    host_if: String,
    /// The namespace's address, where its servers listen.
    pub addr: Ipv4Addr,
    children: Vec<Child>,
}

fn ip(args: &[&str]) -> std::io::Result<Output> {
    Command::new("ip").args(args).stdin(Stdio::null()).output()
}

fn run_ip(args: &[&str]) -> Result<(), String> {
    let o = ip(args).map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// A /30 of 10.213.0.0/16 no route of the host already covers: tests of other binaries may hold
/// one at the same time, so the choice starts from the process id.
fn free_subnet(taken: &str) -> Option<(u8, u8)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7) % 16384;
    for _ in 0..16384 {
        let i = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 16384;
        let (third, fourth) = ((i / 64) as u8, ((i % 64) * 4) as u8);
        if !taken.contains(&format!("10.213.{third}.{fourth}/")) {
            return Some((third, fourth));
        }
    }
    None
}

impl NetNs {
    /// A fresh namespace for `test`, or `None` after one line on stderr when namespaces cannot
    /// be created here (a panic under `ZT_REQUIRE_ORACLES`).
    pub fn new_or_skip(test: &str) -> Option<NetNs> {
        match NetNs::new() {
            Ok(ns) => Some(ns),
            Err(why) => {
                if std::env::var_os("ZT_REQUIRE_ORACLES").is_some() {
                    panic!("{test}: ZT_REQUIRE_ORACLES is set but no network namespace: {why}");
                }
                eprintln!(
                    "skipping {test}: cannot create a network namespace ({why}); run as root"
                );
                None
            }
        }
    }

    fn new() -> Result<NetNs, String> {
        remove_stale();
        let routes =
            ip(&["-4", "route", "show", "table", "all"]).map_err(|e| format!("ip route: {e}"))?;
        let taken = String::from_utf8_lossy(&routes.stdout).into_owned();
        let (third, fourth) = free_subnet(&taken).ok_or("10.213.0.0/16 is all in use")?;
        let tag = format!("{third:02x}{fourth:02x}");
        let ns = NetNs {
            name: format!("zt-test-{}-{tag}", std::process::id()),
            host_if: format!("zt{tag}h"),
            addr: Ipv4Addr::new(10, 213, third, fourth + 2),
            children: Vec::new(),
        };
        let inner_if = format!("zt{tag}n");
        let host_addr = format!("10.213.{third}.{}/30", fourth + 1);
        let ns_addr = format!("{}/30", ns.addr);
        run_ip(&["netns", "add", &ns.name])?;
        // From here on, Drop removes what was made.
        let steps: [&[&str]; 7] = [
            &[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &inner_if,
            ],
            &["link", "set", &inner_if, "netns", &ns.name],
            &["addr", "add", &host_addr, "dev", &ns.host_if],
            &["link", "set", &ns.host_if, "up"],
            &[
                "netns", "exec", &ns.name, "ip", "addr", "add", &ns_addr, "dev", &inner_if,
            ],
            &[
                "netns", "exec", &ns.name, "ip", "link", "set", &inner_if, "up",
            ],
            &["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"],
        ];
        for step in steps {
            run_ip(step)?;
        }
        Ok(ns)
    }

    /// Starts `program args` inside the namespace; it is killed on drop.
    pub fn spawn(&mut self, program: &str, args: &[&str]) -> std::io::Result<()> {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        self.children.push(child);
        Ok(())
    }
}

/// Removes the namespaces (and their veth pairs) of test binaries that no longer run: named
/// `zt-test-<pid>-<tag>`, with no process `<pid>`.
fn remove_stale() {
    let Ok(listed) = ip(&["netns", "list"]) else {
        return;
    };
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some((pid, tag)) = name
            .strip_prefix("zt-test-")
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = ip(&["link", "del", &format!("zt{tag}h")]);
            let _ = ip(&["netns", "del", name]);
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Deleting one end of the pair deletes both; the namespace goes once nothing runs in it.
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

#[cfg(test)]
mod tests {
    use super::free_subnet;

    #[test]
    fn a_subnet_a_route_covers_is_not_chosen() {
        let (a, b) = free_subnet("").unwrap();
        let taken = format!("10.213.{a}.{b}/30 dev x\n");
        let (c, d) = free_subnet(&taken).unwrap();
        assert_ne!((a, b), (c, d));
        assert_eq!(d % 4, 0);
    }
}
