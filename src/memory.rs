//! Handing freed memory back to the operating system.
//!
//! glibc keeps memory a process has freed inside its heap while a small live
//! allocation sits above it, so a loop that builds and drops one frame per file
//! grows the process by the frames' size, not by what is alive. Measured on the
//! transform's first pass over a 300 MB archive: 250 MB resident with 0 MB in
//! use, back to 45 MB after `malloc_trim`. A step that loops over pieces of
//! its input calls `release_freed` after each piece, so memory follows one
//! piece and not the whole input.

/// Returns freed heap pages to the system; a no-op where the allocator is not glibc's.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes
    // the allocator's locks and may be called from any thread.
    unsafe {
        if std::env::var("NOTRIM").is_err() {
            libc::malloc_trim(0);
        }
    }
}
