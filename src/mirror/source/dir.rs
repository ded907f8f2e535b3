//! Local sources: a folder in Logpush layout (or holding tail captures), or one file.
//!
//! Every entry of the folder is input and may be hostile. Links are not
//! followed (one could point at any file of the machine); names that are
//! not UTF-8, special files (a FIFO would block the reader) and folders that
//! cannot be listed are skipped and listed with the reason, and the rest is
//! read. The lake and the quarantine are left out when they sit inside the
//! source, so the mirror never reads its own output.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};

use super::{folder_date, Listing, ObjectRef, ObjectSource, Skipped, Unreadable};
use crate::core::window::Window;
use crate::lake::delivery::{name_end_ms, Delivered, DeliverySource};

pub struct DirSource {
    root: PathBuf,
    single_file: bool,
    /// Folders never listed (the lake, the quarantine).
    exclude: Vec<PathBuf>,
}

impl DirSource {
    pub fn new(path: &Path, exclude: &[&Path]) -> Result<Self> {
        let meta = fs::metadata(path).with_context(|| {
            format!("source {} does not exist: pass --source with a Logpush folder, a tail capture or s3://bucket/prefix", path.display())
        })?;
        if !meta.is_file() && !meta.is_dir() {
            bail!(
                "source {} is neither a file nor a folder: pass a Logpush folder or a tail capture file",
                path.display()
            );
        }
        Ok(DirSource {
            root: path.to_path_buf(),
            single_file: meta.is_file(),
            exclude: exclude.iter().map(|p| p.to_path_buf()).collect(),
        })
    }

    fn path_of(&self, key: &str) -> PathBuf {
        if self.single_file {
            self.root.clone()
        } else {
            self.root.join(key)
        }
    }

    fn list_folder(&self, window: &Window) -> Result<Listing> {
        // Canonical now: the lake may not have existed when the source was opened.
        let exclude: Vec<PathBuf> = self
            .exclude
            .iter()
            .filter_map(|p| fs::canonicalize(p).ok())
            .collect();
        let mut listing = Listing::default();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if rel.is_empty() => {
                    return Err(e).with_context(|| format!("cannot list {}", dir.display()))
                }
                Err(e) => {
                    listing.skip(&rel, format!("folder cannot be listed ({e})"));
                    continue;
                }
            };
            for entry in entries {
                match entry {
                    Ok(entry) => {
                        self.visit(&entry, &rel, window, &exclude, &mut listing, &mut stack)
                    }
                    Err(e) => listing.skip(&rel, format!("folder cannot be listed ({e})")),
                }
            }
        }
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listing)
    }

    /// Sorts one folder entry into objects, folders to descend into, or skipped.
    fn visit(
        &self,
        entry: &fs::DirEntry,
        rel: &str,
        window: &Window,
        exclude: &[PathBuf],
        listing: &mut Listing,
        stack: &mut Vec<(PathBuf, String)>,
    ) {
        let join = |name: &str| match rel {
            "" => name.to_string(),
            _ => format!("{rel}/{name}"),
        };
        let os_name = entry.file_name();
        let Some(name) = os_name.to_str() else {
            let shown = join(&os_name.to_string_lossy());
            return listing.skip(&shown, "name is not UTF-8: rename it to read it".into());
        };
        if name.starts_with('.') {
            let why = "hidden name (starts with `.`): rename it to read it";
            return listing.skip(&join(name), why.into());
        }
        let key = join(name);
        let kind = match entry.file_type() {
            Ok(kind) => kind,
            Err(e) => return listing.skip(&key, format!("cannot be inspected ({e})")),
        };
        if kind.is_symlink() {
            let why = "symbolic link, not followed: copy the file or point --source at the folder it is in";
            listing.skip(&key, why.into());
        } else if kind.is_dir() {
            let path = entry.path();
            let ours = fs::canonicalize(&path).is_ok_and(|c| exclude.contains(&c));
            if !ours {
                stack.push((path, key));
            }
        } else if !kind.is_file() {
            listing.skip(&key, "not a regular file (a FIFO, socket or device)".into());
        } else if window_may_hold(window, &key) {
            match describe(&entry.path(), key.clone()) {
                Ok(obj) => listing.objects.push(obj),
                Err(e) => listing.skip(&key, format!("{e:#}")),
            }
        }
    }
}

impl Listing {
    fn skip(&mut self, key: &str, reason: String) {
        self.skipped.push(Skipped {
            key: key.to_string(),
            reason,
        });
    }
}

fn describe(path: &Path, key: String) -> Result<ObjectRef> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let delivered = match name_end_ms(&key) {
        Some(ms) => Some(Delivered {
            ms,
            source: DeliverySource::ObjectName,
        }),
        // A file whose time is unknown (0) has no delivery time.
        None => (mtime > 0).then_some(Delivered {
            ms: (mtime / 1_000_000) as i64,
            source: DeliverySource::Mtime,
        }),
    };
    Ok(ObjectRef {
        key,
        size: meta.len(),
        version: format!("mtime:{mtime}"),
        delivered,
    })
}

impl ObjectSource for DirSource {
    fn list(&self, window: &Window) -> Result<Listing> {
        if self.single_file {
            let name = self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(vec![describe(&self.root, name)?].into());
        }
        let listing = self.list_folder(window)?;
        if listing.objects.is_empty() && listing.skipped.is_empty() && window == &Window::default()
        {
            bail!("source {} holds no files", self.root.display());
        }
        Ok(listing)
    }

    fn open(&self, obj: &ObjectRef) -> Result<Box<dyn Read + Send>> {
        let path = self.path_of(&obj.key);
        let file = open_regular(&path, !self.single_file).map_err(|e| {
            anyhow::Error::new(Unreadable(format!("cannot open {}: {e}", path.display())))
        })?;
        Ok(Box::new(file))
    }
}

/// Opens a regular file without blocking on a FIFO and, inside a folder
/// source, without following a link swapped in since the listing.
fn open_regular(path: &Path, no_follow: bool) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | follow);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = no_follow;
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

fn window_may_hold(window: &Window, key: &str) -> bool {
    folder_date(key).is_none_or(|d| window.may_hold_folder(d))
}
