//! The one way a file is written: under a temporary name in its destination
//! folder, synced, then renamed into place. A reader sees the old file or the
//! whole new one, never a part; an error or a drop before `commit` leaves
//! nothing behind, and a killed process leaves only temporaries, which the
//! next run of the step that owns the folder removes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Marks a temporary file: `.<name>.tmp-<pid>-<thread>`. It starts with `.`
/// and does not end in `.parquet`, so no reader's glob (`date=*/*.parquet`)
/// and no pyarrow dataset sees it.
pub const TMP_MARK: &str = ".tmp-";

/// Whether a file name is one of [`tmp_path`]'s temporaries.
pub fn is_tmp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TMP_MARK)
}

/// A temporary path next to `dest`, unique per process and thread.
pub fn tmp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tid = format!("{:?}", std::thread::current().id());
    let tid: String = tid.chars().filter(char::is_ascii_digit).collect();
    dest.with_file_name(format!(".{name}{TMP_MARK}{}-{tid}", std::process::id()))
}

/// A file being written to `dest`; see the module documentation.
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file (and `dest`'s folder).
    pub fn create(dest: &Path) -> Result<Self> {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let tmp = tmp_path(dest);
        let file =
            File::create(&tmp).with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(AtomicFile {
            file,
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where the file lands on `commit`.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file, for writers that seek or truncate.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Syncs the bytes and renames the file into place.
    pub fn commit(self) -> Result<()> {
        commit_all([self])
    }
}

/// Commits files together: every one is synced before any is renamed, so a
/// file that cannot be written renames none; a failed rename (rare: the
/// folder went away) leaves those before it in place.
pub fn commit_all(files: impl IntoIterator<Item = AtomicFile>) -> Result<()> {
    let mut files: Vec<AtomicFile> = files.into_iter().collect();
    for f in &mut files {
        f.file
            .sync_data()
            .with_context(|| format!("cannot write {}", f.dest.display()))?;
    }
    for f in &mut files {
        fs::rename(&f.tmp, &f.dest)
            .with_context(|| format!("cannot write {}", f.dest.display()))?;
        f.committed = true;
    }
    Ok(())
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", dest.display()))?;
    file.commit()
}

/// Removes the temporaries (see [`tmp_path`]) a killed
/// run left in `dir`; no folder, nothing to do.
pub fn remove_temporaries(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if !is_tmp_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let removed = match entry.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).with_context(|| {
                    format!("cannot remove the leftover temporary {}", path.display())
                })
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_appears_whole_on_commit_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/out.csv");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"a,b\n").unwrap();
        assert!(!dest.exists());
        let tmp = names(&dir.path().join("sub"));
        assert_eq!(tmp.len(), 1);
        assert!(is_tmp_name(&tmp[0]) && !tmp[0].ends_with(".csv"), "{tmp:?}");
        f.commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"a,b\n");
        assert_eq!(names(&dir.path().join("sub")), ["out.csv"]);
    }

    #[test]
    fn a_dropped_file_leaves_nothing_and_the_old_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        write_atomic(&dest, b"old").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"new, half").unwrap();
        drop(f);
        assert_eq!(fs::read(&dest).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.txt"]);
    }

    #[test]
    fn files_committed_together_are_all_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<AtomicFile> = ["a", "b"]
            .iter()
            .map(|n| {
                let mut f = AtomicFile::create(&dir.path().join(n)).unwrap();
                f.write_all(n.as_bytes()).unwrap();
                f
            })
            .collect();
        commit_all(files).unwrap();
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_folder_in_the_way_fails_with_its_name_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("taken");
        fs::create_dir_all(dest.join("x")).unwrap();
        let err = write_atomic(&dest, b"x").unwrap_err();
        assert!(format!("{err:#}").contains("taken"), "{err:#}");
        assert_eq!(names(dir.path()), ["taken"]);
    }
}
