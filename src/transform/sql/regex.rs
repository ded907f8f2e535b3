//! A pipeline file's regex, as the engines' regex dialects read it with the
//! same matches. The pattern is parsed as the transform compiles it (Rust's
//! `regex`: Unicode classes, leftmost-first) and printed back with every class
//! spelled out as ranges, so that `\d`, `\s`, `\w`, `.` and `(?i)` mean in RE2
//! (DuckDB) and in Java (Spark) what they mean here, whatever those engines'
//! own shorthand classes and flags say. What has no equal form in a dialect
//! is refused in one line.

use std::fmt::Write;

use anyhow::{bail, Result};
use regex_syntax::hir::{self, Class, Hir, HirKind, Look};

use super::Dialect;

/// RE2's largest counted repetition; Java's is larger.
const MAX_REPEAT: u32 = 1000;

/// `pattern` written so that `dialect`'s regex engine finds the same matches
/// and capture groups; `field` names the setting in the error.
pub fn portable(pattern: &str, dialect: Dialect, field: &str) -> Result<String> {
    print(&parse(pattern, field)?, pattern, dialect, field)
}

/// As [`portable`], for a pattern whose group 1 is extracted: the engines'
/// `regexp_extract` give "" where group 1 took no part in a match, and the
/// transform gives no value, so such a pattern is refused.
pub fn portable_extract(pattern: &str, dialect: Dialect, field: &str) -> Result<String> {
    let hir = parse(pattern, field)?;
    if !group_one_takes_part(&hir, false).unwrap_or(false) {
        bail!("{field}: regex `{pattern}` has no SQL form: its group 1 can be left out of a match (in an alternative or an optional part), where SQL engines extract \"\" and tracecost nothing; move the group out of it");
    }
    print(&hir, pattern, dialect, field)
}

fn parse(pattern: &str, field: &str) -> Result<Hir> {
    regex_syntax::Parser::new().parse(pattern).map_err(|e| {
        let e = e.to_string().replace('\n', " ");
        anyhow::anyhow!("{field}: regex `{pattern}` does not compile: {e}")
    })
}

/// Whether group 1 takes part in every match (`None`: there is no group 1).
fn group_one_takes_part(hir: &Hir, optional: bool) -> Option<bool> {
    match hir.kind() {
        HirKind::Capture(c) if c.index == 1 => Some(!optional),
        HirKind::Capture(c) => group_one_takes_part(&c.sub, optional),
        HirKind::Concat(subs) => subs.iter().find_map(|s| group_one_takes_part(s, optional)),
        HirKind::Alternation(subs) => subs.iter().find_map(|s| group_one_takes_part(s, true)),
        HirKind::Repetition(r) => group_one_takes_part(&r.sub, optional || r.min == 0),
        _ => None,
    }
}

fn print(hir: &Hir, pattern: &str, dialect: Dialect, field: &str) -> Result<String> {
    let mut out = String::new();
    match write(hir, dialect, &mut out) {
        Ok(()) => Ok(out),
        Err(why) => bail!("{field}: regex `{pattern}` has no SQL form for {dialect}: {why}"),
    }
}

/// Writes `hir`, grouping only where the printed text needs it: around an
/// alternation, and around a repeated piece longer than one character.
fn write(hir: &Hir, d: Dialect, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => out.push_str("(?:)"),
        HirKind::Literal(hir::Literal(bytes)) => {
            let text = std::str::from_utf8(bytes).map_err(|_| "it matches bytes, not text")?;
            text.chars().for_each(|c| literal(c, out));
        }
        HirKind::Class(class) => {
            // A class of bytes ((?-u)) is of ASCII ones: text must stay UTF-8.
            let ranges: Vec<(char, char)> = match class {
                Class::Unicode(c) => c.ranges().iter().map(|r| (r.start(), r.end())).collect(),
                Class::Bytes(c) => (c.ranges().iter())
                    .map(|r| (char::from(r.start()), char::from(r.end())))
                    .collect(),
            };
            if ranges.is_empty() {
                return Err("a class that matches nothing".into());
            }
            out.push('[');
            for (start, end) in ranges {
                literal(start, out);
                if end != start {
                    out.push('-');
                    literal(end, out);
                }
            }
            out.push(']');
        }
        HirKind::Look(look) => out.push_str(anchor(*look, d)?),
        HirKind::Repetition(rep) => {
            let single = match rep.sub.kind() {
                HirKind::Literal(hir::Literal(bytes)) => {
                    std::str::from_utf8(bytes).is_ok_and(|t| t.chars().count() == 1)
                }
                HirKind::Class(_) | HirKind::Capture(_) | HirKind::Alternation(_) => true,
                _ => false,
            };
            if !single {
                out.push_str("(?:");
            }
            write(&rep.sub, d, out)?;
            if !single {
                out.push(')');
            }
            repetition(rep, out)?;
        }
        HirKind::Capture(capture) => {
            // Unnamed: the transform reads group 1 by number, and Java and
            // RE2 spell names differently.
            out.push('(');
            write(&capture.sub, d, out)?;
            out.push(')');
        }
        HirKind::Concat(subs) => {
            for sub in subs {
                write(sub, d, out)?;
            }
        }
        HirKind::Alternation(subs) => {
            out.push_str("(?:");
            for (i, sub) in subs.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write(sub, d, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// A character that matches itself, in or out of a class: ASCII as it is
/// but for the regex syntax's characters, escaped with `\` (a literal in both
/// dialects); control characters and the rest of Unicode by code point.
fn literal(c: char, out: &mut String) {
    if regex_syntax::is_meta_character(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_ascii_graphic() || c == ' ' {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
    }
}

fn anchor(look: Look, d: Dialect) -> Result<&'static str, String> {
    Ok(match (look, d) {
        (Look::Start, _) => r"\A",
        (Look::End, _) => r"\z",
        // RE2's multi-line anchors break at `\n` only, as Rust's do; Java's
        // at `\r`, U+0085 and U+2028 too, so Spark gets them spelled out.
        (Look::StartLF, Dialect::Duckdb) => "(?m:^)",
        (Look::EndLF, Dialect::Duckdb) => "(?m:$)",
        (Look::StartLF, Dialect::Spark) => r"(?:\A|(?<=\n))",
        (Look::EndLF, Dialect::Spark) => r"(?:\z|(?=\n))",
        (Look::StartCRLF | Look::EndCRLF, _) => return Err("the (?R) flag's line anchors".into()),
        (Look::WordAscii | Look::WordAsciiNegate, Dialect::Duckdb) => match look {
            Look::WordAscii => r"\b",
            _ => r"\B",
        },
        _ => return Err("a word boundary (Rust's \\b is Unicode; write the class out)".into()),
    })
}

fn repetition(rep: &hir::Repetition, out: &mut String) -> Result<(), String> {
    if rep.min > MAX_REPEAT || rep.max.is_some_and(|m| m > MAX_REPEAT) {
        return Err(format!("a count over {MAX_REPEAT}"));
    }
    match (rep.min, rep.max) {
        (0, None) => out.push('*'),
        (1, None) => out.push('+'),
        (0, Some(1)) => out.push('?'),
        (m, None) => {
            let _ = write!(out, "{{{m},}}");
        }
        (m, Some(n)) if m == n => {
            let _ = write!(out, "{{{m}}}");
        }
        (m, Some(n)) => {
            let _ = write!(out, "{{{m},{n}}}");
        }
    }
    if !rep.greedy {
        out.push('?');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(pattern: &str) -> (String, String) {
        let f = |d| portable(pattern, d, "f").unwrap();
        (f(Dialect::Duckdb), f(Dialect::Spark))
    }

    /// The printed pattern, compiled back by Rust's regex, finds what the
    /// original finds on text where Unicode, case and line breaks matter.
    #[test]
    fn printed_patterns_match_as_the_original() {
        let texts = [
            "reqId=00ff&delay=100",
            "\"reqId\" :\t\"ab12\"",
            "/delay/٣٤",
            "line one\nDELAY/7\r\nend",
            "ÄÖ straße ſ K",
            "",
        ];
        let patterns = [
            r"[?&]reqId=([0-9a-f]+)",
            r#""reqId"\s*:\s*"([0-9a-f]+)""#,
            r"/delay/(\d+)",
            r"(?i)delay/(\d+)",
            r"(?m)^(\w+)$",
            r"(?s)one(.)",
            r"(.*?)e",
            r"(straße|ss)",
            r"(?i)(k)",
            r"x{0}(a)?",
            r"([^a-z]{2,3})",
            r"(?-u:(\w+))",
        ];
        for p in patterns {
            let original = regex::Regex::new(p).unwrap();
            let (duckdb, _) = both(p);
            let printed = regex::Regex::new(&duckdb).unwrap();
            for t in texts {
                let caps = |re: &regex::Regex| {
                    re.captures(t)
                        .map(|c| c.iter().map(|m| m.map(|m| m.range())).collect::<Vec<_>>())
                };
                assert_eq!(caps(&original), caps(&printed), "{p} as {duckdb} on {t:?}");
            }
        }
    }

    #[test]
    fn an_extracted_group_that_can_be_left_out_is_refused() {
        for p in [r"[?&]a=(\w+)|/health", r"x(\d+)?", r"(?:(a)|b)", r"(a)*"] {
            let err = portable_extract(p, Dialect::Duckdb, "f")
                .unwrap_err()
                .to_string();
            assert!(err.contains("group 1 can be left out"), "{p}: {err}");
        }
        for p in [r"(?:x|/delay/)(\d+)", r"(a)+", r"((b)?c)", r"(\d*)"] {
            assert!(portable_extract(p, Dialect::Spark, "f").is_ok(), "{p}");
        }
    }

    #[test]
    fn shorthand_classes_are_spelled_out() {
        let (duckdb, spark) = both(r"(\d)");
        assert_eq!(duckdb, spark);
        assert!(duckdb.starts_with("([0-9\\x{660}-\\x{669}"), "{duckdb}");
        assert!(!duckdb.contains("\\d"));
        let (duckdb, spark) = both("(?m)^a$");
        assert_eq!(duckdb, "(?m:^)a(?m:$)");
        assert_eq!(spark, r"(?:\A|(?<=\n))a(?:\z|(?=\n))");
        assert_eq!(both(r"[?&]id=([0-9a-f]+)").0, r"[\&\?]id=([0-9a-f]+)");
        assert_eq!(both(r"(ab)+|c{2}").0, r"(?:(ab)+|c{2})");
    }

    #[test]
    fn what_has_no_equal_form_is_refused_in_one_line() {
        for (p, why) in [
            (r"\bword\b", "word boundary"),
            (r"a{1001}", "count over 1000"),
            (r"(?mR)^a", "(?R)"),
            (r"[a&&b]", "matches nothing"),
        ] {
            let err = portable(p, Dialect::Spark, "transform.x").unwrap_err();
            let err = err.to_string();
            assert!(err.starts_with("transform.x: regex"), "{err}");
            assert!(err.contains(why), "{p}: {err}");
            assert!(!err.contains('\n'));
        }
        // An ASCII word boundary is RE2's own; Java's follows its \w, which varies by version.
        let ascii = r"(?-u:\b)x";
        assert_eq!(portable(ascii, Dialect::Duckdb, "f").unwrap(), r"\bx");
        assert!(portable(ascii, Dialect::Spark, "f").is_err());
    }
}
