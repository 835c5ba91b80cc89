//! A bounded, seeded fuzz/property harness for every parser of untrusted input: the YAML
//! readers and the decoder, the minimal-diff editor, the overlay loader, image references,
//! PEM/DER and the secrets bundle. It runs inside the normal test command (`cargo test`), so
//! CI runs it on every change.
//!
//! Why a small generator of our own and not proptest or cargo-fuzz: the inputs that find bugs in
//! parsers are structure-aware (YAML fragments, image-reference pieces, DER TLVs) mutations of a
//! committed corpus, which proptest would need the same hand-written strategies for; a seeded
//! splitmix64 stream makes every CI run the same cases with no new dependency to build on a
//! shared two-core runner; and a failure prints its target, seed, case number and input (escaped,
//! cut), which is what goes into the corpus, so shrinking adds little. Coverage-guided fuzzing
//! stays possible on top (cargo-fuzz over the same `check_*` functions) but is not what CI runs.
//!
//! Properties, per target: never panic; stay within the cases' bounded size; errors carry a
//! position where the input had one and never quote a planted secret; round trips hold where
//! they exist (writer → both readers, edit → parse, image display → parse, PEM/DER encode →
//! decode, bundle write → read).
//!
//! Every file under `tests/corpus/<target>/` always runs, then `cases` generated ones.
//! `ZT_FUZZ_SEED` picks another seed and `ZT_FUZZ_SCALE` multiplies the case counts, for longer
//! runs by hand (`ZT_FUZZ_SCALE=20 cargo test --release -p zt --lib fuzz::`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// splitmix64: tiny, fast, and good enough to spread cases; not for anything secret.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn word<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len())]
    }
}

fn seed() -> u64 {
    std::env::var("ZT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026)
}

fn cases(base: usize) -> usize {
    let scale: usize = std::env::var("ZT_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    base * scale.max(1)
}

/// An input as a failure message shows it: escaped and cut.
fn show(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let escaped: String = text
        .chars()
        .take(600)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > 600 {
        format!("{escaped}... ({} bytes)", input.len())
    } else {
        escaped
    }
}

/// Runs `check` on every corpus file of `target`, then on `n` inputs from `generate`, and
/// reports the first panic with what reproduces it.
fn run(
    target: &str,
    n: usize,
    generate: impl Fn(&mut Rng, &[Vec<u8>]) -> Vec<u8>,
    check: impl Fn(&[u8]),
) {
    let corpus = corpus(target);
    for (path, input) in &corpus {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input)));
        if let Err(e) = outcome {
            panic!(
                "fuzz {target}: corpus file {} failed: {}",
                path.display(),
                panic_text(&e)
            );
        }
    }
    let seeds: Vec<Vec<u8>> = corpus.into_iter().map(|(_, b)| b).collect();
    let base = seed();
    for i in 0..n {
        let mut rng = Rng::new(base ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let input = generate(&mut rng, &seeds);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input)));
        if let Err(e) = outcome {
            let saved = save_failure(target, base, i, &input);
            panic!(
                "fuzz {target}: seed {base} case {i} failed: {}\ninput ({saved}): {}",
                panic_text(&e),
                show(&input)
            );
        }
    }
}

/// Writes a failing input where it can be copied into the corpus as a regression case.
fn save_failure(target: &str, seed: u64, case: usize, input: &[u8]) -> String {
    let dir = std::env::temp_dir().join("zt-fuzz-failures");
    let path = dir.join(format!("{target}-{seed}-{case}"));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
        Ok(()) => format!("saved as {}", path.display()),
        Err(e) => format!("not saved: {e}"),
    }
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every file of `tests/corpus/<target>/`, sorted; for overlays also the built-in preview set
/// (real overlays, not copied into the corpus). `*.hex` files hold bytes as hex text.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut dirs = vec![corpus_dir().join(target)];
    if target == "overlay" {
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/patches/preview"));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in &dirs {
        let listed: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        assert!(!listed.is_empty(), "{} holds no corpus", dir.display());
        files.extend(listed);
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let bytes = if p.extension().is_some_and(|e| e == "hex") {
                unhex(&bytes)
            } else {
                bytes
            };
            (p, bytes)
        })
        .collect()
}

fn unhex(text: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = text.iter().copied().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| {
            let s = std::str::from_utf8(c).unwrap_or("00");
            u8::from_str_radix(s, 16).unwrap_or(0)
        })
        .collect()
}

/// Byte-level mutations of a seed: insert a token of the target's dictionary, delete or
/// duplicate a range, flip a byte, splice in part of another seed, truncate.
fn mutate(rng: &mut Rng, seed: &[u8], seeds: &[Vec<u8>], dict: &[&str]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 | 1 => {
                let tok = rng.pick(dict).as_bytes();
                out.splice(at..at, tok.iter().copied());
            }
            2 => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(32)).min(out.len());
                let part = out[at..end].to_vec();
                out.splice(at..at, part);
            }
            4 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = *rng.pick(b" \n\t:-[]{},#&*!|>'\"%@`?~0aZ\\\r");
            }
            5 if !seeds.is_empty() => {
                let other = rng.pick(seeds);
                let from = rng.below(other.len() + 1);
                let end = (from + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => out.truncate(at),
        }
    }
    out
}

/// Either a mutated corpus seed or the output of `fresh`.
fn seed_or(
    rng: &mut Rng,
    seeds: &[Vec<u8>],
    dict: &[&str],
    fresh: impl FnOnce(&mut Rng) -> Vec<u8>,
) -> Vec<u8> {
    if !seeds.is_empty() && rng.chance(60) {
        let s = rng.pick(seeds).clone();
        mutate(rng, &s, seeds, dict)
    } else {
        let f = fresh(rng);
        if rng.chance(50) {
            mutate(rng, &f, seeds, dict)
        } else {
            f
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML readers and the decoder

/// A value planted in generated documents: no error message may contain it.
const PLANTED: &str = "planted-s3cr3t-value";

const YAML_DICT: &[&str] = &[
    ": ",
    "\n",
    "- ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "<<: *a\n",
    "!!str ",
    "!!int ",
    "!t ",
    "!<tag:x> ",
    "|\n",
    ">-\n",
    "|+2\n",
    "'",
    "\"",
    "# c\n",
    "---\n",
    "...\n",
    "\t",
    "\r\n",
    "\\x41",
    "\\u00e9",
    "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n",
    "~",
    "null",
    "0755",
    "yes",
    "\u{feff}",
    "é",
    "\u{2028}",
    "0x1F",
    "1e9",
    ".inf",
    "    ",
    "controlplane:\n  name: a\n",
    "workers:\n- ",
    "labels: {a: b}\n",
    "  ",
    "\"\\",
    "'''",
    PLANTED,
];

fn scalar_text(rng: &mut Rng) -> String {
    let pieces = [
        "a",
        "name",
        "yes",
        "0755",
        "~",
        "",
        "- x",
        "a: b",
        "#",
        "\n",
        "é",
        "\t",
        " lead",
        "trail ",
        "1.5",
        "0x10",
        "2024-01-01",
        "\"q\"",
        "'s'",
        "{x}",
        "*",
        "&",
        "<<",
        "line\nline",
        "\\",
        "\u{85}",
        "\u{feff}",
        "%",
        "@",
        "`",
        "---",
        "...",
        PLANTED,
        "9223372036854775808",
    ];
    let mut s = String::new();
    for _ in 0..rng.below(3) + 1 {
        s.push_str(rng.word(&pieces));
    }
    s
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth >= 4 || rng.chance(45);
    if leaf {
        return match rng.below(6) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(50)),
            2 => Value::from(rng.next() as i64 >> rng.below(63)),
            3 => serde_json::Number::from_f64((rng.below(2000) as f64 - 1000.0) / 8.0)
                .map_or(Value::Null, Value::Number),
            _ => Value::String(scalar_text(rng)),
        };
    }
    if rng.chance(50) {
        Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        )
    } else {
        let mut m = Map::new();
        for _ in 0..rng.below(5) {
            m.insert(scalar_text(rng), random_value(rng, depth + 1));
        }
        Value::Object(m)
    }
}

/// YAML text as people write it: block and flow collections, every scalar style, anchors,
/// aliases and merges, comments, several documents.
fn random_yaml(rng: &mut Rng) -> String {
    let mut s = String::new();
    let docs = 1 + rng.below(3);
    for d in 0..docs {
        if d > 0 || rng.chance(20) {
            s.push_str("---\n");
        }
        write_block(rng, &mut s, 0, 0);
    }
    s
}

fn write_scalar(rng: &mut Rng, s: &mut String) {
    let text = scalar_text(rng).replace('\n', " ");
    match rng.below(5) {
        0 => s.push_str(&format!("{text:?}")),
        1 => s.push_str(&format!("'{}'", text.replace('\'', "''"))),
        2 => s.push_str(PLANTED),
        _ => s.push_str(if text.is_empty() { "x" } else { &text }),
    }
}

fn write_block(rng: &mut Rng, s: &mut String, indent: usize, depth: usize) {
    let pad = " ".repeat(indent);
    if depth > 4 || rng.chance(15) {
        s.push_str(&pad);
        write_flow(rng, s, depth);
        s.push('\n');
        return;
    }
    let entries = 1 + rng.below(4);
    let seq = rng.chance(35);
    for i in 0..entries {
        s.push_str(&pad);
        if seq {
            s.push_str("- ");
        } else {
            s.push_str(&format!("k{}: ", rng.below(6) + i));
        }
        match rng.below(8) {
            0 => {
                s.push_str(&format!("&a{} ", rng.below(3)));
                write_scalar(rng, s);
                s.push('\n');
            }
            1 => s.push_str(&format!("*a{}\n", rng.below(3))),
            2 => {
                s.push_str("|\n");
                s.push_str(&format!("{pad}  line one\n{pad}  {PLANTED}\n"));
            }
            3 | 4 => {
                if rng.chance(30) {
                    s.push_str(&format!("&a{}", rng.below(3)));
                }
                s.push('\n');
                write_block(rng, s, indent + 2, depth + 1);
            }
            5 if !seq => {
                s.push('\n');
                s.push_str(&format!("{pad}  <<: *a{}\n", rng.below(3)));
                write_block(rng, s, indent + 2, depth + 1);
            }
            _ => {
                write_scalar(rng, s);
                if rng.chance(20) {
                    s.push_str(" # comment");
                }
                s.push('\n');
            }
        }
    }
}

fn write_flow(rng: &mut Rng, s: &mut String, depth: usize) {
    if depth > 6 || rng.chance(30) {
        write_scalar(rng, s);
        return;
    }
    let (open, close) = if rng.chance(50) {
        ('[', ']')
    } else {
        ('{', '}')
    };
    s.push(open);
    for i in 0..rng.below(4) {
        if i > 0 {
            s.push_str(", ");
        }
        if open == '{' {
            s.push_str(&format!("f{i}: "));
        }
        write_flow(rng, s, depth + 1);
    }
    s.push(close);
}

fn check_yaml(input: &[u8]) {
    use crate::yaml::{self, Limit};
    let Ok(src) = std::str::from_utf8(input) else {
        return;
    };
    // Names (keys, fields) are shown in backticks by design; a mutation may turn the planted
    // value into a key. Anywhere else in a message it is a quoted value.
    let no_secret = |m: &str| {
        let outside_names: String = m.split('`').step_by(2).collect();
        assert!(
            !outside_names.contains(PLANTED),
            "an error quotes a value: {m}"
        )
    };
    let tree = yaml::parse_stream(src);
    match &tree {
        Ok(docs) => {
            for d in docs {
                let _ = d.to_json();
                let _ = d.describe();
            }
            let kept =
                yaml::parse_stream_keep_duplicates(src).expect("a stream with no duplicates");
            assert!(kept.duplicates.is_empty());
            assert_eq!(&kept.docs, docs);
        }
        Err(e) => {
            assert!(
                e.pos.is_some() || e.limit == Some(Limit::InputBytes),
                "a tree error without a position: {e}"
            );
            no_secret(&e.message);
            if let Ok(kept) = yaml::parse_stream_keep_duplicates(src) {
                // Only duplicates may separate the two.
                assert!(!kept.duplicates.is_empty(), "only one reader failed: {e}");
            }
        }
    }
    match yaml::from_str_multi::<Value>(src) {
        Ok(_) => {}
        Err(e) => {
            no_secret(&e.message);
            assert!(
                e.pos.is_some() || e.limit == Some(Limit::InputBytes),
                "a typed-reader error without a position: {e}"
            );
        }
    }
    // The decoder, through the loaders that use it.
    let file = Path::new("environments/dev/talos-values.yaml");
    if let Err(diags) = crate::tenant::values::parse(src, file, "dev") {
        assert!(diags.len() <= crate::yaml::decode::MAX_PROBLEMS + 1);
        for d in diags.iter() {
            no_secret(&d.message);
            assert_eq!(d.file, file);
        }
    }
    let _ = crate::tenant::apps::parse(src, Path::new("tenants/a/config.yaml"), "a", Some("dev"));
    let _ = crate::deploy::config::parse(
        src,
        Path::new("ci/config.yaml"),
        &crate::deploy::config::Overrides::default(),
    );
}

#[test]
fn yaml_readers_and_decoder() {
    // Every hostile class, small: the properties hold for them too (bench/yaml.rs measures
    // them at megabytes).
    for case in crate::yaml::hostile::all() {
        let input = (case.make)(32 * 1024);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_yaml(input.as_bytes())
        }));
        if let Err(e) = outcome {
            panic!(
                "fuzz yaml: hostile {} failed: {}",
                case.name,
                panic_text(&e)
            );
        }
    }
    run(
        "yaml",
        cases(600),
        |rng, seeds| seed_or(rng, seeds, YAML_DICT, |r| random_yaml(r).into_bytes()),
        check_yaml,
    );
}

/// What we write, both readers read back as the same value.
#[test]
fn yaml_writer_round_trips_through_both_readers() {
    let base = seed();
    for i in 0..cases(400) {
        let mut rng = Rng::new(base ^ 0x77 ^ (i as u64) << 8);
        let value = random_value(&mut rng, 0);
        let text = crate::yaml::to_string(&value).expect("writable");
        let tree = crate::yaml::parse_document(&text)
            .unwrap_or_else(|e| panic!("case {i}: {e}\n{text}"))
            .to_json();
        assert_eq!(tree, value, "case {i}: the tree reader differs\n{text}");
        let typed: Value =
            crate::yaml::from_str(&text).unwrap_or_else(|e| panic!("case {i}: {e}\n{text}"));
        assert_eq!(typed, value, "case {i}: the typed reader differs\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The minimal-diff editor

/// Changes `v` at random: set a scalar, drop a key or item, add a key or item, or replace a
/// whole subtree.
fn perturb(rng: &mut Rng, v: &mut Value, depth: usize) {
    match v {
        Value::Object(m) if !m.is_empty() && rng.chance(70) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = rng.pick(&keys).clone();
            match rng.below(4) {
                0 => {
                    m.shift_remove(&k);
                }
                1 => {
                    m.insert(
                        format!("new{}", rng.below(100)),
                        random_value(rng, depth + 2),
                    );
                }
                _ => {
                    if let Some(child) = m.get_mut(&k) {
                        perturb(rng, child, depth + 1);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() && rng.chance(70) => match rng.below(4) {
            0 => {
                let i = rng.below(a.len());
                a.remove(i);
            }
            1 => {
                let i = rng.below(a.len() + 1);
                a.insert(i, random_value(rng, depth + 2));
            }
            _ => {
                let i = rng.below(a.len());
                perturb(rng, &mut a[i], depth + 1);
            }
        },
        _ => *v = random_value(rng, depth.max(2)),
    }
}

fn check_edit(input: &[u8], rng: &mut Rng) {
    use crate::yaml::edit::{EditError, edit_stream, node_equals};
    let Ok(src) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(docs) = crate::yaml::parse_stream(src) else {
        return;
    };
    if docs.is_empty() {
        return;
    }
    let index = rng.below(docs.len());
    let mut value = docs[index].to_json();
    for _ in 0..1 + rng.below(3) {
        perturb(rng, &mut value, 0);
    }
    match edit_stream(src, &docs, &[(index, &value)]) {
        Ok(out) => {
            let back = crate::yaml::parse_stream(&out)
                .unwrap_or_else(|e| panic!("the edit does not parse: {e}\n{out}"));
            assert_eq!(back.len(), docs.len(), "{out}");
            assert!(
                node_equals(&back[index], &value),
                "the edit does not read as intended\n{out}"
            );
            for (i, (a, b)) in docs.iter().zip(&back).enumerate() {
                if i != index {
                    assert_eq!(a.to_json(), b.to_json(), "document {i} changed\n{out}");
                }
            }
        }
        // Refusing is allowed (anchors, complex keys, ...); a broken result is not, and
        // `edit_stream` checks that itself before returning one.
        Err(EditError::Mismatch { .. } | EditError::Unsupported { .. }) => {}
        Err(EditError::Parse(e)) => assert!(e.pos.is_some(), "{e}"),
        Err(e) => panic!("unexpected edit error: {e}"),
    }
}

#[test]
fn editor_edits_read_back_as_intended() {
    let base = seed();
    let corpus = corpus("edit");
    let seeds: Vec<Vec<u8>> = corpus.iter().map(|(_, b)| b.clone()).collect();
    for (path, input) in &corpus {
        for k in 0..8u64 {
            let mut rng = Rng::new(base ^ k);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_edit(input, &mut rng)
            }));
            if let Err(e) = outcome {
                panic!(
                    "fuzz edit: {} (variant {k}) failed: {}",
                    path.display(),
                    panic_text(&e)
                );
            }
        }
    }
    for i in 0..cases(500) {
        let mut rng = Rng::new(base ^ 0xed17 ^ (i as u64) << 12);
        let input = match rng.below(3) {
            0 => crate::yaml::to_string(&random_value(&mut rng, 0))
                .unwrap_or_default()
                .into_bytes(),
            1 => random_yaml(&mut rng).into_bytes(),
            _ => rng.pick(&seeds).clone(),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_edit(&input, &mut rng)
        }));
        if let Err(e) = outcome {
            panic!(
                "fuzz edit: seed {base} case {i} failed: {}\ninput: {}",
                panic_text(&e),
                show(&input)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Overlays

const OVERLAY_DICT: &[&str] = &[
    "name: x\n",
    "ops:\n",
    "- op: replace\n",
    "  path: /a/b\n",
    "  value: 1\n",
    "op: move\n",
    "from: /x\n",
    "select:\n",
    "  files: ['**/*.yaml']\n",
    "  kind: Deployment\n",
    "where:\n",
    "unless:\n",
    "{{ ",
    " }}",
    "{% if x %}",
    "{% endif %}",
    "[name=a]",
    "/~1",
    "/-",
    "~0",
    "*",
    "**",
    "description: d\n",
    "mode: preview\n",
    "  - path: /x\n    equals: 1\n",
    "matches: '^a'\n",
    "{{ range(1000000) | list }}",
    "{{ 'x' * 100000000 }}",
];

fn check_overlay(input: &[u8]) {
    let Ok(src) = std::str::from_utf8(input) else {
        return;
    };
    let file = Path::new("patches/10-x.yaml");
    if let Err(diags) = crate::patch::overlay::parse(file, src) {
        assert!(!diags.is_empty());
        let yaml_error = crate::yaml::parse_document(src).err();
        for d in diags.iter() {
            assert_eq!(d.file, file, "{d}");
            if yaml_error.as_ref().is_some_and(|e| e.pos.is_some()) {
                assert!(d.pos.is_some(), "a YAML error without its position: {d}");
            }
        }
    }
}

#[test]
fn overlay_loader() {
    run(
        "overlay",
        cases(400),
        |rng, seeds| seed_or(rng, seeds, OVERLAY_DICT, |r| random_yaml(r).into_bytes()),
        check_overlay,
    );
}

// ---------------------------------------------------------------------------------------------
// Image references

const IMAGE_DICT: &[&str] = &[
    "ghcr.io/",
    "localhost:5001/",
    "[::1]:5000/",
    "docker.io/library/",
    "org/",
    "app",
    "my-svc",
    ":v1",
    ":sha-abc123",
    "@sha256:",
    "sha256:",
    "a1b2c3d4e5f60718",
    "__",
    "--",
    "..",
    ".",
    "_",
    "/",
    ":",
    "@",
    "A",
    "é",
    " ",
    "\t",
    "\u{0}",
    "192.168.0.1:80/",
    "a.b-c.d/",
];

fn random_image(rng: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    if rng.chance(40) {
        s.push_str(rng.word(&[
            "ghcr.io/",
            "localhost:5001/",
            "[::1]:5000/",
            "registry.example.com/",
            "a:1/",
        ]));
    }
    for i in 0..1 + rng.below(3) {
        if i > 0 {
            s.push('/');
        }
        s.push_str(rng.word(&["org", "app", "my-svc", "a.b", "a__b", "a---b", "x0", "a_b"]));
    }
    if rng.chance(50) {
        s.push(':');
        s.push_str(rng.word(&["v1", "sha-abc123", "latest", "1.2.3-rc.1", "_x", "A.b-C"]));
    }
    if rng.chance(30) {
        let hex: String = (0..64).map(|_| *rng.pick(&['0', '9', 'a', 'f'])).collect();
        s.push_str("@sha256:");
        s.push_str(&hex);
    }
    s.into_bytes()
}

fn check_image(input: &[u8]) {
    use crate::deploy::image::{ImageArg, ImageRef, xrd_pattern_problem};
    let Ok(s) = std::str::from_utf8(input) else {
        return;
    };
    let _ = xrd_pattern_problem(s);
    if let Ok(r) = ImageRef::parse(s) {
        let shown = r.to_string();
        assert_eq!(
            ImageRef::parse(&shown).as_ref(),
            Ok(&r),
            "display → parse of {shown}"
        );
        let _ = (
            r.domain(),
            r.repository(),
            r.last_component(),
            r.tag(),
            r.digest(),
        );
        let _ = r.is_service("my-svc");
        if let Ok(arg) = ImageArg::parse(s) {
            let applied = arg.apply_to(&r);
            let shown = applied.to_string();
            assert_eq!(ImageRef::parse(&shown).as_ref(), Ok(&applied), "{shown}");
        }
    }
    if let Ok(arg) = ImageArg::parse(s) {
        let _ = arg.to_string();
        if let Ok(base) = ImageRef::parse("ghcr.io/org/app:v1") {
            let applied = arg.apply_to(&base);
            let shown = applied.to_string();
            assert_eq!(ImageRef::parse(&shown).as_ref(), Ok(&applied), "{shown}");
        }
    }
}

#[test]
fn image_references() {
    run(
        "image",
        cases(3000),
        |rng, seeds| seed_or(rng, seeds, IMAGE_DICT, random_image),
        check_image,
    );
}

// ---------------------------------------------------------------------------------------------
// PEM and DER

const PEM_DICT: &[&str] = &[
    "-----BEGIN ",
    "-----END ",
    "-----",
    "CERTIFICATE",
    "EC PRIVATE KEY",
    "ED25519 PRIVATE KEY",
    "PRIVATE KEY",
    "\n",
    "\r\n",
    "=",
    "==",
    "A",
    "+/",
    " ",
    "Proc-Type: 4,ENCRYPTED\n",
    "é",
];

fn random_der(rng: &mut Rng, depth: usize) -> Vec<u8> {
    use crate::talos::der;
    let tags = [
        der::TAG_INTEGER,
        der::TAG_BIT_STRING,
        der::TAG_OCTET_STRING,
        der::TAG_SEQUENCE,
        der::TAG_CONTEXT_0,
        der::TAG_CONTEXT_1,
        der::TAG_CONTEXT_1_PRIMITIVE,
        0x06,
        0x1f,
    ];
    let tag = *rng.pick(&tags);
    let content: Vec<u8> = if tag & 0x20 != 0 && depth < 4 {
        let parts: Vec<Vec<u8>> = (0..rng.below(4))
            .map(|_| random_der(rng, depth + 1))
            .collect();
        parts.concat()
    } else {
        let len = *rng.pick(&[0usize, 1, 2, 32, 127, 128, 300]);
        (0..len).map(|_| rng.next() as u8).collect()
    };
    der::tlv(tag, &content)
}

fn check_der(input: &[u8]) {
    use crate::talos::{der, keys};
    let mut r = der::Reader::new(input);
    let mut steps = 0;
    while !r.is_empty() && steps < 1000 {
        steps += 1;
        match r.any() {
            Ok((tag, content)) => {
                if tag & 0x20 != 0 {
                    let mut inner = der::Reader::new(content);
                    while let Ok((_, _)) = inner.any() {}
                }
            }
            Err(_) => break,
        }
    }
    let _ = der::single(input, der::TAG_SEQUENCE).map(|mut s| {
        let _ = s.small_uint();
        let _ = s.optional(der::TAG_CONTEXT_0);
        let _ = s.finish();
    });
    let _ = keys::PrivateKey::from_pkcs8(input);
    let _ = keys::ed25519_seed_from_pkcs8(input);
    let _ = keys::ec_sec1_to_pkcs8(input);
    let _ = keys::ec_pkcs8_to_sec1(input);
    // Round trip: what we encode, we read back.
    let content: Vec<u8> = input.iter().take(400).copied().collect();
    let encoded = der::tlv(der::TAG_OCTET_STRING, &content);
    assert_eq!(
        der::single_content(&encoded, der::TAG_OCTET_STRING),
        Ok(&content[..])
    );
    let seq = der::sequence(&[&encoded, &encoded]);
    let mut s = der::single(&seq, der::TAG_SEQUENCE).expect("our own sequence");
    assert_eq!(s.expect(der::TAG_OCTET_STRING), Ok(&content[..]));
    assert_eq!(s.expect(der::TAG_OCTET_STRING), Ok(&content[..]));
    assert_eq!(s.finish(), Ok(()));
}

#[test]
fn der_reader_and_key_containers() {
    run(
        "der",
        cases(3000),
        |rng, seeds| {
            if !seeds.is_empty() && rng.chance(50) {
                let s = rng.pick(seeds).clone();
                mutate(
                    rng,
                    &s,
                    seeds,
                    &["\u{30}\u{82}", "\u{80}", "\u{0}", "\u{ff}"],
                )
            } else {
                random_der(rng, 0)
            }
        },
        check_der,
    );
}

fn check_pem(input: &[u8]) {
    use crate::talos::{keys, pem};
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    // The body of a block may be a key: errors never repeat a line of it. (The label is shown
    // when it looks like one, so a body line that also is part of the BEGIN line does not count.)
    let begin = text.trim().lines().next().unwrap_or("");
    let body_lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 16 && !l.starts_with("-----") && !begin.contains(l))
        .collect();
    let checked = |e: &dyn std::fmt::Display| {
        let m = e.to_string();
        for l in &body_lines {
            assert!(!m.contains(l), "an error quotes the body: {m}");
        }
    };
    match pem::decode(text) {
        Ok(block) => {
            let again = pem::encode(&block.label, &block.der);
            assert_eq!(pem::decode(&again), Ok(block.clone()));
            let b64 = pem::encode_b64(&block.label, &block.der);
            assert_eq!(pem::decode_b64(&b64), Ok(block.clone()));
            if let Err(e) = keys::PrivateKey::from_pem(&block) {
                checked(&e);
            }
            check_der(&block.der);
        }
        Err(e) => checked(&e),
    }
    if let Err(e) = pem::decode_b64(text.trim()) {
        checked(&e);
    }
}

#[test]
fn pem_blocks_and_keys() {
    run(
        "pem",
        cases(1500),
        |rng, seeds| {
            seed_or(rng, seeds, PEM_DICT, |r| {
                let der = random_der(r, 0);
                let label = *r.pick(&["CERTIFICATE", "EC PRIVATE KEY", "ED25519 PRIVATE KEY", "X"]);
                crate::talos::pem::encode(label, &der).into_bytes()
            })
        },
        check_pem,
    );
}

#[test]
fn pem_key_round_trip() {
    use crate::talos::{keys, pem};
    for i in 0..cases(50) {
        let mut rng = Rng::new(seed() ^ 0x9e ^ i as u64);
        let mut seed_bytes = [0u8; keys::ED25519_SEED_LEN];
        for b in &mut seed_bytes {
            *b = rng.next() as u8;
        }
        let key = keys::PrivateKey::ed25519_from_seed(&seed_bytes);
        let text = key.to_talos_pem().expect("encodable");
        let block = pem::decode(&text).expect("our own PEM");
        let back = keys::PrivateKey::from_pem(&block).expect("our own key");
        assert_eq!(back.pkcs8_der(), key.pkcs8_der());
    }
}

// ---------------------------------------------------------------------------------------------
// The secrets bundle

fn bundle_seed() -> &'static (String, Vec<String>) {
    static SEED: std::sync::OnceLock<(String, Vec<String>)> = std::sync::OnceLock::new();
    SEED.get_or_init(|| {
        let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("a date");
        let bundle = crate::talos::bundle::SecretsBundle::generate_at(now).expect("a bundle");
        let text = bundle.to_yaml().expect("writable");
        // Every value long enough to be a secret: no error may repeat it.
        let doc = crate::yaml::parse_document(&text).expect("our own bundle");
        let mut secrets = Vec::new();
        collect_scalars(&doc, &mut secrets);
        secrets.retain(|s| s.len() >= 16);
        (text, secrets)
    })
}

fn collect_scalars(node: &crate::yaml::Node, out: &mut Vec<String>) {
    use crate::yaml::NodeKind;
    match &node.kind {
        NodeKind::Scalar(s) => out.push(s.text.clone()),
        NodeKind::Seq(items) => items.iter().for_each(|n| collect_scalars(n, out)),
        NodeKind::Map(entries) => entries.iter().for_each(|e| collect_scalars(&e.value, out)),
    }
}

fn check_bundle(input: &[u8]) {
    use crate::talos::bundle::SecretsBundle;
    let Ok(src) = std::str::from_utf8(input) else {
        return;
    };
    let (_, secrets) = bundle_seed();
    let file = Path::new("secrets.yaml");
    match SecretsBundle::parse(src, file) {
        Ok(b) => {
            let text = b.to_yaml().expect("writable");
            let again = SecretsBundle::parse(&text, file).expect("what we write reads back");
            assert!(again == b, "bundle write → read changed it");
        }
        Err(diags) => {
            for d in diags.iter() {
                let shown = d.to_string();
                for s in secrets {
                    assert!(
                        !shown.contains(s.as_str()),
                        "an error repeats a secret: {shown}"
                    );
                }
            }
        }
    }
}

#[test]
fn secrets_bundle() {
    let (text, _) = bundle_seed();
    check_bundle(text.as_bytes());
    let lines: Vec<&str> = text.lines().collect();
    run(
        "bundle",
        cases(150),
        |rng, seeds| {
            if rng.chance(50) {
                // Swap, drop or damage whole lines of a real bundle: wrong types, wrong keys in
                // the wrong places, truncated base64.
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                for _ in 0..1 + rng.below(3) {
                    let i = rng.below(l.len());
                    match rng.below(4) {
                        0 => {
                            l.remove(i);
                        }
                        1 => {
                            let j = rng.below(l.len());
                            l.swap(i, j);
                        }
                        2 => {
                            let cut = rng.below(l[i].len() + 1);
                            let keep: String = l[i].chars().take(cut).collect();
                            l[i] = keep;
                        }
                        _ => {
                            let j = rng.below(lines.len());
                            let value = lines[j].split_once(": ").map_or("", |(_, v)| v);
                            if let Some((k, _)) = l[i].split_once(": ") {
                                l[i] = format!("{k}: {value}");
                            }
                        }
                    }
                }
                (l.join("\n") + "\n").into_bytes()
            } else {
                let s = if !seeds.is_empty() && rng.chance(50) {
                    rng.pick(seeds).clone()
                } else {
                    text.clone().into_bytes()
                };
                mutate(rng, &s, seeds, YAML_DICT)
            }
        },
        check_bundle,
    );
}
