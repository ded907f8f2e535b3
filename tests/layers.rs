//! The rule of `src/lib.rs`: imports only point down the layers, and no step
//! imports another. Read from the `crate::`, `super::` and `tracecost::`
//! paths of every source file.

use std::path::{Path, PathBuf};

/// Layers from the top; modules of one layer may not import each other.
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["lib", "cli"],
    &["settings"],
    &["mirror", "transform", "report", "simulate"],
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

/// Code without comments: a doc link is not an import.
fn code(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(text: &str) -> &str {
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
        // there unless it names a top-level module.
        if at.is_empty() {
            out.extend(targets(rest).into_iter().filter(|m| layer(m).is_some()));
        }
    }
    out
}

/// `from imports to` when that breaks the rule.
fn violation(from: &str, to: &str) -> Option<String> {
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

fn violations_in(rel: &Path, text: &str) -> Vec<String> {
    let path = module_path(rel);
    let from = path[0].clone();
    let mut found: Vec<String> = imports(&path, text)
        .iter()
        .filter(|to| !matches!(to.as_str(), "" | "self" | "super"))
        .filter_map(|to| violation(&from, to))
        .map(|v| format!("{}: {v}", rel.display()))
        .collect();
    found.dedup();
    found
}

#[test]
fn imports_only_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 40, "read {} files", files.len());
    let mut all = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        all.extend(violations_in(file.strip_prefix(&src).unwrap(), &text));
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
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
    ];
    for (file, text) in fine {
        assert_eq!(violations_in(Path::new(file), text), Vec::<String>::new());
    }
}
