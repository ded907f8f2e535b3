//! Local sources: a folder in Logpush layout (or holding tail captures), or one file.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};

use super::source::{folder_date, ObjectRef, ObjectSource};
use crate::config::Window;

pub struct DirSource {
    root: PathBuf,
    single_file: bool,
}

impl DirSource {
    pub fn new(path: &Path) -> Result<Self> {
        let meta = fs::metadata(path).with_context(|| {
            format!("source {} does not exist: pass --source with a Logpush folder, a tail capture or s3://bucket/prefix", path.display())
        })?;
        Ok(DirSource {
            root: path.to_path_buf(),
            single_file: meta.is_file(),
        })
    }

    fn path_of(&self, key: &str) -> PathBuf {
        if self.single_file {
            self.root.clone()
        } else {
            self.root.join(key)
        }
    }
}

fn describe(path: &Path, key: String) -> Result<ObjectRef> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(ObjectRef {
        key,
        size: meta.len(),
        version: format!("mtime:{mtime}"),
    })
}

impl ObjectSource for DirSource {
    fn list(&self, window: &Window) -> Result<Vec<ObjectRef>> {
        if self.single_file {
            let name = self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(vec![describe(&self.root, name)?]);
        }
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let entries =
                fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
            for entry in entries {
                let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    stack.push((entry.path(), key));
                } else if window_may_hold(window, &key) {
                    out.push(describe(&entry.path(), key)?);
                }
            }
        }
        if out.is_empty() && window == &Window::default() {
            bail!("source {} holds no files", self.root.display());
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn open(&self, obj: &ObjectRef) -> Result<Box<dyn Read + Send>> {
        let path = self.path_of(&obj.key);
        let file =
            fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Box::new(file))
    }
}

fn window_may_hold(window: &Window, key: &str) -> bool {
    folder_date(key).is_none_or(|d| window.may_hold_folder(d))
}
