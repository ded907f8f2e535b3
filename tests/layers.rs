//! The rule of `src/lib.rs`: imports only point down the layers, and no step
//! imports another. Read from the `crate::`, `super::` and `tracecost::`
//! paths of every source file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the top; modules of one layer may not import each other.
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["lib", "cli"],
    &["settings"],
    &[
        "mirror",
        "transform",
        "report",
        "simulate",
        "explore",
        "drive",
        "publish",
    ],
    &["lake"],
    &["io"],
    &["core"],
    &["stats"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module path of a file under `src/`: `lake/mod.rs` → `[lake]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Code without comments and literals: a doc link or a URL in a string is
/// not an import.
fn code(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(len) = raw_string(rest) {
            out.push_str("\"\"");
            i += len;
        } else if b[i] == b'"' || rest.starts_with("b\"") {
            let start = i + rest.find('"').unwrap() + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if b[i] == b'\''
            && (rest[1..].find('\'')).is_some_and(|e| e <= 4 || rest.starts_with("'\\"))
        {
            i += 1 + rest[1..].find('\'').unwrap() + 1;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`) at the start of `text`.
fn raw_string(text: &str) -> Option<usize> {
    let body = text.strip_prefix("br").or_else(|| text.strip_prefix('r'))?;
    let hashes = body.len() - body.trim_start_matches('#').len();
    let open = body[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let end = open.find(&close)?;
    Some(text.len() - open.len() + end + close.len())
}

fn ident_at(text: &str) -> &str {
    if text.starts_with('*') {
        return "*";
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules one path (after `crate::`) names; a `{a, b::c}`
/// group names each of its members.
fn targets(rest: &str) -> Vec<String> {
    match rest.strip_prefix('{') {
        Some(group) => {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth < 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut out = Vec::new();
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident_at(group[start..i].trim()).to_string());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            out.push(ident_at(group[start..end].trim()).to_string());
            out.retain(|m| !m.is_empty() && m != "self");
            out
        }
        None => vec![ident_at(rest).to_string()],
    }
}

/// Every top-level module the file's paths reach: `crate::x`, `tracecost::x`
/// (the binary), and `super::` chains that climb out of the file's top module.
fn imports(path: &[String], text: &str) -> Vec<String> {
    let text = code(text);
    let mut out = Vec::new();
    for root in ["crate::", "tracecost::"] {
        for (i, _) in text.match_indices(root) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            out.extend(targets(&text[i + root.len()..]));
        }
    }
    for (i, _) in text.match_indices("super::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut rest = &text[i..];
        let mut at = path.to_vec();
        while let Some(r) = rest.strip_prefix("super::") {
            at.pop();
            rest = r;
        }
        // Inside a file's `mod tests` one more `super` is needed to climb
        // as far, so a chain that seems to reach the top names a sibling
        // there unless it names a top-level module (or globs them all
        // outside the tests).
        let in_tests = text[..i].contains("mod tests");
        if at.is_empty() {
            let reach = |m: &String| layer(m).is_some() || (m == "*" && !in_tests);
            out.extend(targets(rest).into_iter().filter(reach));
        }
    }
    out
}

/// `from imports to` when that breaks the rule.
fn violation(from: &str, to: &str) -> Option<String> {
    if to == "*" {
        return Some(format!(
            "{from} imports every top-level module (a glob from the crate root)"
        ));
    }
    if from == to {
        return None;
    }
    match (layer(from), layer(to)) {
        (Some(f), Some(t)) if t > f => None,
        (Some(_), Some(_)) => Some(format!("{from} imports {to}, which is not below it")),
        (None, _) => Some(format!("module {from} is in no layer: add it to LAYERS")),
        (_, None) => Some(format!("{from} imports {to}, which is in no layer")),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Ways to reach a module that the path scan cannot follow.
const HIDDEN_PATHS: [&str; 4] = ["crate as ", "#[path", "include!", "tracecost as "];

fn violations_in(rel: &Path, text: &str) -> Vec<String> {
    let path = module_path(rel);
    let from = path[0].clone();
    let hidden = HIDDEN_PATHS.iter().filter(|h| code(text).contains(**h));
    let hidden = hidden.map(|h| format!("{}: `{}` hides what it imports", rel.display(), h.trim()));
    let mut found: Vec<String> = hidden.collect();
    found.extend(
        imports(&path, text)
            .iter()
            .filter(|to| !matches!(to.as_str(), "" | "self" | "super" | "crate"))
            .filter_map(|to| violation(&from, to))
            .map(|v| format!("{}: {v}", rel.display())),
    );
    found.dedup();
    found
}

/// Every path after `crate::`, `super::` or `self::` at the start of `rest`,
/// `{a, b::c}` groups expanded.
fn paths(rest: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = rest.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start, mut out) = (0, 0, Vec::new());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.extend(paths(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(paths(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            let prefix = segments.clone();
            let join = |p: Vec<String>| prefix.iter().cloned().chain(p).collect();
            return out.into_iter().map(join).collect();
        }
        let ident = ident_at(rest);
        if ident.is_empty() || ident == "*" {
            break;
        }
        segments.push(ident.to_string());
        rest = rest[ident.len()..].trim_start();
        match rest.strip_prefix("::") {
            Some(r) => rest = r.trim_start(),
            None => break,
        }
    }
    vec![segments]
}

/// The modules (of `known`) that a file's code outside its tests names.
fn module_refs(
    path: &[String],
    text: &str,
    known: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let text = code(text);
    let text = &text[..text.find("#[cfg(test)]").unwrap_or(text.len())];
    let mut out = BTreeSet::new();
    for root in ["crate::", "super::", "self::"] {
        for (i, _) in text.match_indices(root) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base = match root {
                "crate::" => Vec::new(),
                _ => path.to_vec(),
            };
            let mut rest = &text[i + root.len()..];
            if root == "super::" {
                base.pop();
                while let Some(r) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = r;
                }
            }
            for p in paths(rest) {
                let full: Vec<String> = base.iter().cloned().chain(p).collect();
                let mut prefixes = (1..=full.len()).rev().map(|n| full[..n].to_vec());
                out.extend(prefixes.find(|m| known.contains(m)));
            }
        }
    }
    out
}

/// A cycle among modules that are not each other's ancestors (a parent and
/// its children share items by design), if there is one.
fn cycle(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<Vec<String>>> {
    fn visit(
        at: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(i) = stack.iter().position(|m| m == at) {
            return Some(stack[i..].to_vec());
        }
        if !done.insert(at.clone()) {
            return None;
        }
        stack.push(at.clone());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

fn module_graph(files: &[(Vec<String>, String)]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<Vec<String>> = files.iter().map(|(p, _)| p.clone()).collect();
    let related = |a: &[String], b: &[String]| a.starts_with(b) || b.starts_with(a);
    let mut edges = BTreeMap::new();
    for (path, text) in files {
        let refs = module_refs(path, text, &known)
            .into_iter()
            .filter(|m| !related(path, m));
        edges.insert(path.clone(), refs.collect::<BTreeSet<_>>());
    }
    edges
}

#[test]
fn imports_only_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 40, "read {} files", files.len());
    let mut all = Vec::new();
    let mut modules = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let rel = file.strip_prefix(&src).unwrap();
        all.extend(violations_in(rel, &text));
        modules.push((module_path(rel), text));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
    let graph = module_graph(&modules);
    assert!(
        graph.values().map(BTreeSet::len).sum::<usize>() > 50,
        "edges found"
    );
    assert_eq!(cycle(&graph), None, "modules that import each other");
}

#[test]
fn modules_that_import_each_other_are_found() {
    let files = [
        ("mirror/ingest.rs", "use super::segment::MAX_DAYS;"),
        (
            "mirror/segment.rs",
            "use crate::mirror::{ingest::GROUP_BYTES, parse::record::Row};",
        ),
        ("mirror/parse/record.rs", "fn f() {}"),
        (
            "mirror/mod.rs",
            "pub mod ingest; use ingest::x; fn f() { segment::g() }",
        ),
    ];
    let modules: Vec<(Vec<String>, String)> = (files.iter())
        .map(|(f, t)| (module_path(Path::new(f)), t.to_string()))
        .collect();
    let graph = module_graph(&modules);
    let found = cycle(&graph).expect("ingest and segment import each other");
    assert_eq!(found.len(), 2, "{found:?}");
    let without: Vec<_> = modules
        .into_iter()
        .filter(|(p, _)| p.last().unwrap() != "ingest")
        .collect();
    assert_eq!(cycle(&module_graph(&without)), None);
}

#[test]
fn a_back_import_or_a_step_importing_a_step_is_found() {
    let cases = [
        ("stats/rng.rs", "use crate::lake::manifest::Manifest;"),
        ("io/csv.rs", "fn f() { crate::report::run(); }"),
        (
            "lake/mod.rs",
            "use crate::{core::window::Window, settings::Settings};",
        ),
        ("mirror/wait.rs", "use crate::transform::rules::Filters;"),
        (
            "core/cost.rs",
            "use crate::{\n    stats::bootstrap,\n    cli::Cli,\n};",
        ),
        ("lake/derived.rs", "use super::super::report::Options;"),
        ("new/x.rs", "use crate::core::window::Window;"),
        ("lake/mod.rs", "use crate::*;"),
        ("report/mod.rs", "use crate as root;"),
        ("stats/mod.rs", "#[path = \"../report/x.rs\"] mod r;"),
        ("mirror/mod.rs", "use super::*; fn f() { report::run() }"),
        (
            "io/csv.rs",
            "fn f() -> String { format!(\"s3://{}\", crate::report::x()) }",
        ),
    ];
    for (file, text) in cases {
        let found = violations_in(Path::new(file), text);
        assert_eq!(found.len(), 1, "{file}: {text}: {found:?}");
    }
    let fine = [
        (
            "report/mod.rs",
            "use crate::{core::numbers, io::atomic::write_atomic};",
        ),
        (
            "mirror/parse/tail.rs",
            "use super::lines::Piece; use super::super::segment;",
        ),
        (
            "core/window.rs",
            "// see crate::settings::Settings\nuse chrono::Utc;",
        ),
        ("main.rs", "use tracecost::{mirror, settings::Settings};"),
        (
            "io/csv.rs",
            "const URL: &str = \"http://crate::report\"; // crate::report",
        ),
        (
            "lake/mod.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}",
        ),
    ];
    for (file, text) in fine {
        assert_eq!(violations_in(Path::new(file), text), Vec::<String>::new());
    }
}
