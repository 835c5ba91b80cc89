//! Hostile YAML inputs, generated in code so no multi-megabyte file is ever committed.
//!
//! Each generator builds the worst case of one denial-of-service class found in an audit of our
//! loaders, at a size the caller chooses. The unit tests use them at a size that proves the
//! limit holds, the fuzz harness runs them at a small size, and `make bench` (`benches/yaml.rs`)
//! measures them at a few megabytes, next to the goal: any input up to
//! [`super::MAX_INPUT_BYTES`] is accepted or refused in under 2 s and 300 MB.

use std::fmt::Write as _;

/// A named class of hostile input.
pub struct Case {
    pub name: &'static str,
    /// What the input attacks, for the benchmark's report.
    pub what: &'static str,
    /// Builds the input at about the given size in bytes.
    pub make: fn(usize) -> String,
}

/// `depth` nested mappings, each anchored, the innermost holding a flow mapping of `leaf_keys`
/// keys, and no alias anywhere. A reader that copies every anchored node when it sees it (to
/// serve later aliases) copies the leaf `depth` times.
pub fn nested_anchors(depth: usize, leaf_keys: usize) -> String {
    let mut s = String::with_capacity(depth * (depth + 8) + leaf_keys * 10);
    for level in 0..depth {
        let pad = "  ".repeat(level);
        let _ = writeln!(s, "{pad}a{level}: &a{level}");
    }
    let pad = "  ".repeat(depth);
    let _ = write!(s, "{pad}leaf: {{");
    for k in 0..leaf_keys {
        if k > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "k{k}: v");
    }
    s.push_str("}\n");
    s
}

/// One mapping with `keys` distinct keys: a duplicate-key check that compares every key with
/// every earlier one is quadratic.
pub fn many_keys(keys: usize) -> String {
    let mut s = String::with_capacity(keys * 12);
    for k in 0..keys {
        let _ = writeln!(s, "k{k}: 1");
    }
    s
}

/// An anchored mapping of `base_keys` keys merged (`<<`) into a mapping that sets `own_keys`
/// other keys itself: merging that checks each merged key against every own key is quadratic.
pub fn big_merge(base_keys: usize, own_keys: usize) -> String {
    let mut s = String::with_capacity((base_keys + own_keys) * 12 + 32);
    s.push_str("base: &b\n");
    for k in 0..base_keys {
        let _ = writeln!(s, "  b{k}: 1");
    }
    s.push_str("m:\n  <<: *b\n");
    for k in 0..own_keys {
        let _ = writeln!(s, "  o{k}: 1");
    }
    s
}

/// The classic "billion laughs": `levels` anchors, each a list of ten aliases of the previous.
pub fn alias_bomb(levels: usize) -> String {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..levels {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        let _ = writeln!(s, "a{i}: &a{i} [{items}]");
    }
    s
}

/// One long anchored scalar (`scalar_bytes`) and a list of `aliases` aliases to it: few nodes,
/// but every alias copies the whole text.
pub fn scalar_alias_bomb(scalar_bytes: usize, aliases: usize) -> String {
    let mut s = String::with_capacity(scalar_bytes + aliases * 4 + 16);
    s.push_str("a: &a ");
    s.push_str(&"x".repeat(scalar_bytes));
    s.push_str("\nb: [");
    for i in 0..aliases {
        if i > 0 {
            s.push(',');
        }
        s.push_str("*a");
    }
    s.push_str("]\n");
    s
}

/// A list of `aliases` aliases to one small anchored mapping.
pub fn many_aliases(aliases: usize) -> String {
    let mut s = String::from("a: &a {x: 1, y: 2, z: 3}\nb:\n");
    for _ in 0..aliases {
        s.push_str("- *a\n");
    }
    s
}

/// A merge key with a list of `sources` aliases, each to the same anchored mapping of `keys`
/// keys.
pub fn merge_list(keys: usize, sources: usize) -> String {
    let mut s = String::from("base: &b {");
    for k in 0..keys {
        if k > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "k{k}: 1");
    }
    s.push_str("}\nm:\n  <<: [");
    for i in 0..sources {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str("*b");
    }
    s.push_str("]\n");
    s
}

/// `depth` nested flow sequences: `[[[...]]]`.
pub fn deep_flow(depth: usize) -> String {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s.push('\n');
    s
}

/// `depth` nested block sequences: `- - - ... x`, one level per line.
pub fn deep_block(depth: usize) -> String {
    let mut s = String::new();
    for level in 0..depth {
        s.push_str(&" ".repeat(level * 2));
        s.push_str("-\n");
    }
    s.push_str(&" ".repeat(depth * 2));
    s.push_str("x\n");
    s
}

/// `docs` empty documents.
pub fn many_documents(docs: usize) -> String {
    "---\n".repeat(docs)
}

/// One mapping whose only key is `key_bytes` long (an explicit key, so YAML's 1,024-character
/// limit on simple keys does not apply). A loader that suggests the nearest known key for an
/// unknown one compares it with each known key.
pub fn long_key(key_bytes: usize) -> String {
    let mut s = String::with_capacity(key_bytes + 16);
    s.push_str("? ");
    s.push_str(&"k".repeat(key_bytes));
    s.push_str("\n: 1\n");
    s
}

/// A flow sequence of `items` one-character scalars: the most nodes per byte plain YAML allows.
pub fn dense_nodes(items: usize) -> String {
    let mut s = String::with_capacity(items * 2 + 2);
    s.push('[');
    for i in 0..items {
        if i > 0 {
            s.push(',');
        }
        s.push('x');
    }
    s.push_str("]\n");
    s
}

/// One line: `k: ` and a plain scalar of `words` short words (the scanner's simple-key
/// lookahead and plain-scalar folding over a very long line).
pub fn long_line(words: usize) -> String {
    let mut s = String::with_capacity(words * 2 + 4);
    s.push_str("k:");
    for _ in 0..words {
        s.push_str(" a");
    }
    s.push('\n');
    s
}

/// One flow mapping of `keys` keys on a single line.
pub fn flow_map_one_line(keys: usize) -> String {
    let mut s = String::with_capacity(keys * 10);
    s.push('{');
    for k in 0..keys {
        if k > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "k{k}: 1");
    }
    s.push_str("}\n");
    s
}

/// A literal block scalar of `lines` lines.
pub fn block_scalar(lines: usize) -> String {
    let mut s = String::with_capacity(lines * 8 + 8);
    s.push_str("k: |\n");
    for _ in 0..lines {
        s.push_str("  line\n");
    }
    s
}

/// A double-quoted scalar of `escapes` escape sequences.
pub fn escapes(escapes: usize) -> String {
    let mut s = String::with_capacity(escapes * 4 + 8);
    s.push_str("k: \"");
    for _ in 0..escapes {
        s.push_str("\\x41");
    }
    s.push_str("\"\n");
    s
}

/// Every class, each generated on demand at a size of roughly `bytes` (the shapes scale so each
/// input is about that long).
pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "nested-anchors",
            what: "40 nested anchored mappings around one big mapping, no alias",
            make: |b| nested_anchors(40, b / 11),
        },
        Case {
            name: "many-keys",
            what: "one mapping of distinct keys (duplicate-key check)",
            make: |b| many_keys(b / 11),
        },
        Case {
            name: "big-merge",
            what: "`<<` merge of 50k keys into a mapping of the rest",
            make: |b| big_merge(50_000, (b / 11).saturating_sub(50_000)),
        },
        Case {
            name: "alias-bomb",
            what: "billion laughs, 12 levels",
            make: |_| alias_bomb(12),
        },
        Case {
            name: "scalar-alias-bomb",
            what: "aliases of one long scalar",
            make: |b| scalar_alias_bomb(b / 2, b / 6),
        },
        Case {
            name: "many-aliases",
            what: "a list of aliases of one small mapping",
            make: |b| many_aliases(b / 6),
        },
        Case {
            name: "merge-list",
            what: "`<<: [*b, *b, ...]` over a mapping",
            make: |b| merge_list(1_000, b / 4),
        },
        Case {
            name: "deep-flow",
            what: "nested flow sequences `[[[...]]]`",
            make: |b| deep_flow(b / 2),
        },
        Case {
            name: "deep-block",
            what: "nested block sequences",
            make: |b| deep_block(((b as f64).sqrt() as usize).max(1)),
        },
        Case {
            name: "many-documents",
            what: "empty documents `---`",
            make: |b| many_documents(b / 4),
        },
        Case {
            name: "long-key",
            what: "one key of the whole size",
            make: long_key,
        },
        Case {
            name: "long-line",
            what: "one plain scalar of words on one line",
            make: |b| long_line(b / 2),
        },
        Case {
            name: "flow-map-line",
            what: "one flow mapping of distinct keys on one line",
            make: |b| flow_map_one_line(b / 10),
        },
        Case {
            name: "block-scalar",
            what: "one literal block scalar of short lines",
            make: |b| block_scalar(b / 7),
        },
        Case {
            name: "escapes",
            what: "one double-quoted scalar of escapes",
            make: |b| escapes(b / 4),
        },
        Case {
            name: "dense-nodes",
            what: "a flow list of one-character scalars",
            make: |b| dense_nodes(b / 2),
        },
    ]
}
