//! `make bench`: render timings and memory (plain timing loop, no harness).
//!
//! - 1 control plane + 200 workers from an existing bundle: goal under 50 ms.
//! - the example environment: goal under 10 MB peak heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use zt::render::{self, TemplateSource};
use zt::source::RepoFiles;
use zt::talos::bundle::SecretsBundle;
use zt::tenant::model::{Machine, Role};

/// Counts live and peak heap bytes so the bench can report peak memory.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = zt::examples::bundle().expect("example bundle");
    let platform = RepoFiles::dir(&root.join("examples/platform-repo"));
    let base =
        zt::tenant::load_env(&root.join("examples/tenant-repo"), "dev").expect("example values");

    // Peak heap for the example environment, from load to rendered tree.
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let example_bundle = zt::examples::bundle().expect("example bundle");
    let values = zt::tenant::load_env(&root.join("examples/tenant-repo"), "dev").expect("values");
    let r = render::render_values(
        &values,
        &example_bundle,
        Some(&platform),
        &TemplateSource::default(),
    )
    .expect("render");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(r);
    println!(
        "render example (1 cp + 2 workers, bundle parse included): peak heap {:.2} MB (goal < 10 MB)",
        peak as f64 / 1e6
    );

    // 1 control plane + 200 workers.
    let mut big = base.clone();
    big.workers = (0..200)
        .map(|i| Machine {
            role: Role::Worker,
            name: format!("worker{i:03}"),
            ip: format!("10.1.{}.{}", i / 250, i % 250 + 1)
                .parse()
                .expect("ip"),
            ..base.workers[0].clone()
        })
        .collect();
    let templates = TemplateSource::default();
    let mut times = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let r = render::render_values(&big, &bundle, Some(&platform), &templates).expect("render");
        times.push(t.elapsed());
        assert_eq!(r.tree.len(), 202);
    }
    let m = median(times);
    println!(
        "render 1 cp + 200 workers: median {:.1} ms over 15 runs (goal < 50 ms) {}",
        m.as_secs_f64() * 1e3,
        if m < Duration::from_millis(50) {
            "ok"
        } else {
            "SLOW"
        }
    );
    write_bench(&big, &bundle, &platform);
    tenants_bench(root);
}

/// Render and write 1 control plane + 200 workers into a fresh OUT and over an existing one:
/// what `kubectl zt render --out` does after loading (one `syncfs`, not a sync per file).
fn write_bench(values: &zt::tenant::EnvValues, bundle: &SecretsBundle, platform: &RepoFiles) {
    let templates = TemplateSource::default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut fresh, mut over) = (Vec::new(), Vec::new());
    for i in 0..15 {
        let out = tmp.path().join(format!("out{i}"));
        let t = Instant::now();
        let r = render::render_values(values, bundle, Some(platform), &templates).expect("render");
        r.tree.write(&out).expect("write");
        fresh.push(t.elapsed());
        let t = Instant::now();
        let r = render::render_values(values, bundle, Some(platform), &templates).expect("render");
        r.tree.write(&out).expect("write");
        over.push(t.elapsed());
    }
    for (what, times) in [
        ("into a new OUT", fresh),
        ("over the previous output", over),
    ] {
        let m = median(times);
        println!(
            "render and write 1 cp + 200 workers {what}: median {:.1} ms over 15 runs (goal < 50 ms) {}",
            m.as_secs_f64() * 1e3,
            if m < Duration::from_millis(50) {
                "ok"
            } else {
                "SLOW"
            }
        );
    }
}

/// 1,000 tenants: load every tenants/<name>/config.yaml and render one Application each.
fn tenants_bench(root: &Path) {
    let dir = tempfile::tempdir().expect("tempdir");
    let env_dir = dir.path().join("environments/dev");
    std::fs::create_dir_all(&env_dir).expect("mkdir");
    std::fs::copy(
        root.join("examples/tenant-repo/environments/dev/talos-values.yaml"),
        env_dir.join("talos-values.yaml"),
    )
    .expect("copy");
    for i in 0..1000 {
        let t = dir.path().join(format!("tenants/tenant-{i:04}"));
        std::fs::create_dir_all(&t).expect("mkdir");
        std::fs::write(
            t.join("config.yaml"),
            format!(
                "tenant: tenant-{i:04}\nrepoURL: https://github.com/acme/tenants.git\ntargetRevision: main\nappPath: tenants/tenant-{i:04}\nnamespace: tenant-{i:04}\n"
            ),
        )
        .expect("write");
    }
    let tenant = zt::tenant::TenantRepo::open(dir.path()).expect("repo");
    let templates = TemplateSource::default();
    let mut times = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let r = render::render_production(&render::ProductionRequest {
            tenant: &tenant,
            env: "dev",
            bundle: None,
            platform_repo: None,
            platform: render::argocd::PlatformSource {
                url: "https://github.com/acme/zerotouch-platform.git".into(),
                revision: "main".into(),
                overlay: "bootstrap/argocd/overlays/main/dev".into(),
            },
            credentials: None,
            templates: &templates,
        })
        .expect("render");
        times.push(t.elapsed());
        assert_eq!(r.tree.len(), 1001);
    }
    let m = median(times);
    println!(
        "render 1,000 tenant Applications (files read included): median {:.1} ms over 9 runs (goal < 100 ms) {}",
        m.as_secs_f64() * 1e3,
        if m < Duration::from_millis(100) {
            "ok"
        } else {
            "SLOW"
        }
    );
}
