//! Paths as a person reads them.

use std::path::{Path, PathBuf};

/// Resolves `.` and `dir/..` lexically, so that messages show `data/lake`
/// rather than `pipelines/../data/lake`.
pub fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// One path component of ASCII letters, digits, `-`, `_` and `.`, not `.` or `..`.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && (name.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_tidied_lexically() {
        assert_eq!(
            tidy(Path::new("pipelines/../data/lake")),
            PathBuf::from("data/lake")
        );
        assert_eq!(tidy(Path::new("./a/./b")), PathBuf::from("a/b"));
        assert_eq!(tidy(Path::new("../x")), PathBuf::from("../x"));
        assert_eq!(tidy(Path::new("/a/../../b")), PathBuf::from("/b"));
        assert_eq!(tidy(Path::new("a/..")), PathBuf::from("."));
    }

    #[test]
    fn a_name_is_one_folder_name() {
        for good in ["proxy-fetch", "a.b_c-1", "...x", "x.."] {
            assert!(is_folder_name(good), "{good}");
        }
        for bad in [
            "", ".", "..", "../x", "/abs", "a/b", "a\\b", "x\ny", "é", "a b", "C:",
        ] {
            assert!(!is_folder_name(bad), "{bad:?}");
        }
    }
}
