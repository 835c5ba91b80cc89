//! `make bench`: the full built-in preview patch set on the real platform-repo tree
//! ../shared/fixtures/zerotouch-platform@5edffa6 (18 scanned files, about 11k lines, a 10k-line CRD
//! bundle among them). Goal: under 20 ms per run on a 2-core machine; the old shell runner took
//! about 1 s with its yq calls stubbed out and about 12 s with a Python yq.
//!
//! A plain timing loop (no harness): each run reads, parses and patches every file in memory and
//! re-edits the changed ones (`plan`); the second figure also writes them to a fresh copy.

use std::path::Path;
use std::time::{Duration, Instant};

use zt::patch::{self, Mode, Vars, overlay, write};

const RUNS: usize = 50;
const GOAL: Duration = Duration::from_millis(20);

fn copy_tree(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::write(&to, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

fn report(what: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times[times.len() / 2];
    println!(
        "{what:<44} median {:7.2} ms   min {:7.2} ms   max {:7.2} ms   ({} runs)",
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
    median
}

fn main() {
    let Some(tree) = zt_test_support::shared_dir()
        .map(|d| d.join("fixtures/zerotouch-platform@5edffa6"))
        .filter(|d| d.is_dir())
    else {
        println!(
            "preview_patch bench: ../shared/fixtures/zerotouch-platform@5edffa6 not present, skipped"
        );
        return;
    };
    let overlays = overlay::preview().expect("the built-in patch set loads");
    let vars = Vars {
        platform_url: patch::LOCAL_URL.into(),
        platform_revision: "5edffa6b8406efca48caba7cd7c4753426258e15".into(),
        mode: Mode::Local,
    };
    let request = patch::Request {
        root: &tree,
        overlays: &overlays,
        vars: &vars,
    };
    // Warm-up, and a summary of what one run does.
    let plan = patch::plan(&request).expect("the preview set applies to 5edffa6");
    let lines: usize = plan.changes.iter().map(|c| c.numstat().0).sum();
    println!(
        "preview_patch on {}: {} files read, {} changed ({lines} lines)",
        tree.display(),
        plan.files_read,
        plan.changes.len()
    );

    let mut planned = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let plan = patch::plan(&request).unwrap();
        planned.push(t.elapsed());
        std::hint::black_box(plan);
    }
    let median = report("plan (read, parse, patch, re-edit, verify)", planned);

    let mut written = Vec::with_capacity(RUNS / 5);
    for _ in 0..RUNS / 5 {
        let copy = tempfile::tempdir().unwrap();
        copy_tree(&tree, copy.path());
        let request = patch::Request {
            root: copy.path(),
            ..request
        };
        let t = Instant::now();
        let plan = patch::plan(&request).unwrap();
        write::write_all(copy.path(), &plan.changes).unwrap();
        written.push(t.elapsed());
    }
    report("plan + atomic write of a fresh copy", written);
    println!(
        "goal: under {} ms per run: {}",
        GOAL.as_millis(),
        if median < GOAL { "met" } else { "NOT met" }
    );
}
