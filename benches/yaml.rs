//! `make bench`: every YAML reader against the worst-case hostile inputs of
//! [`zt::yaml::hostile`] at a few megabytes. Goal: any input up to 10 MB is accepted or refused
//! in under 2 s and under 300 MB of memory.
//!
//! Each (input, reader) pair runs in a child process of this same binary, so its peak memory
//! (`VmHWM` of the child) is its own and a runaway case can be stopped: a child over the time
//! cap is killed, one over the address-space cap (set with the shell's `ulimit -v`) aborts;
//! both are reported as missing the goal instead of hanging or swapping the machine.
//!
//! `cargo bench -p zt --bench yaml -- [SIZE_MB]` (default 4).

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zt::yaml::hostile;

const GOAL_TIME: Duration = Duration::from_secs(2);
const GOAL_MEM_MB: u64 = 300;
/// Children are stopped here: far over the goal, short enough for a bench run.
const TIME_CAP: Duration = Duration::from_secs(30);
const MEM_CAP_MB: u64 = 4096;

const READERS: &[&str] = &["tree", "typed", "tenant-values"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], &args[3], args[4].parse().expect("size"));
        return;
    }
    // `cargo bench` passes `--bench`; the only other argument is the size in MB.
    let mb: usize = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(4);
    let bytes = mb * 1024 * 1024;
    let exe = std::env::current_exe().expect("own path");
    println!(
        "yaml: hostile inputs of ~{mb} MB; goal < {} s and < {GOAL_MEM_MB} MB each",
        GOAL_TIME.as_secs()
    );
    let mut missed = 0;
    for case in hostile::all() {
        let len = (case.make)(bytes).len();
        for reader in READERS {
            let (line, ok) = run_child(&exe, case.name, reader, mb, len);
            if !ok {
                missed += 1;
            }
            println!("  {line}  ({})", case.what);
        }
    }
    println!(
        "yaml: {}",
        if missed == 0 {
            "goal met for every input".to_string()
        } else {
            format!("goal MISSED for {missed} (input, reader) pairs")
        }
    );
}

/// Runs one pair in a child; returns the report line and whether the goal was met.
fn run_child(exe: &Path, case: &str, reader: &str, mb: usize, len: usize) -> (String, bool) {
    let label = format!("{case:<18} {reader:<13} {:>6.2} MB", len as f64 / 1048576.0);
    let script = format!("ulimit -v {}; exec \"$0\" \"$@\"", MEM_CAP_MB * 1024);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .args(["--child", case, reader, &mb.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the bench child");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            let Some((ms, kb, outcome)) = parse_report(&out) else {
                return (
                    format!(
                        "{label}: died after {:.1} s ({status}; over {MEM_CAP_MB} MB?)  MISSED",
                        start.elapsed().as_secs_f64()
                    ),
                    false,
                );
            };
            let ok = ms < GOAL_TIME.as_millis() as f64 && kb / 1024 < GOAL_MEM_MB;
            return (
                format!(
                    "{label}: {:>8.1} ms {:>6} MB  {outcome:<9} {}",
                    ms,
                    kb / 1024,
                    if ok { "met" } else { "MISSED" }
                ),
                ok,
            );
        }
        if start.elapsed() > TIME_CAP {
            let _ = child.kill();
            let _ = child.wait();
            return (
                format!("{label}: over {} s, stopped  MISSED", TIME_CAP.as_secs()),
                false,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn parse_report(out: &str) -> Option<(f64, u64, String)> {
    let mut it = out.split_whitespace();
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.to_string(),
    ))
}

/// In the child: generate the input, read it once, print `ms peak_kb outcome`.
fn child(case: &str, reader: &str, mb: usize) {
    let make = hostile::all()
        .into_iter()
        .find(|c| c.name == case)
        .expect("known case")
        .make;
    let text = make(mb * 1024 * 1024);
    let start = Instant::now();
    let accepted = match reader {
        "tree" => zt::yaml::parse_stream(&text).is_ok(),
        "typed" => zt::yaml::from_str_multi::<serde_json::Value>(&text).is_ok(),
        "tenant-values" => zt::tenant::values::parse(
            &text,
            Path::new("environments/dev/talos-values.yaml"),
            "dev",
        )
        .is_ok(),
        other => panic!("unknown reader {other}"),
    };
    let ms = start.elapsed().as_secs_f64() * 1e3;
    println!(
        "{ms:.1} {} {}",
        peak_kb(),
        if accepted { "accepted" } else { "refused" }
    );
}

/// The peak resident set of this process (`VmHWM`), in KiB.
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
