//! Handing freed memory back to the operating system.
//!
//! glibc keeps memory a process has freed inside its heap while a small live
//! allocation sits above it, so a loop that builds and drops one frame per file
//! grows the process by the frames' size, not by what is alive. A step that loops over pieces of
//! its input calls `release_freed` after each piece, so memory follows one
//! piece and not the whole input.

/// Returns freed heap pages to the system; a no-op where the allocator is not glibc's.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes
    // the allocator's locks and may be called from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Maps every block above glibc's initial threshold (128 KiB) afresh and
/// unmaps it when freed, the threshold no longer raised as blocks are freed:
/// a step that grows large vectors while it reads and drops frames keeps only
/// what is alive resident.
pub fn map_large_blocks() {
    set_thresholds(128 << 10, 128 << 10);
}

/// While alive, large blocks come from the heap instead of fresh mappings.
///
/// glibc maps every block above its threshold (128 KiB, raised as such
/// blocks are freed, up to 32 MiB) afresh: zeroed pages, one fault each. The
/// mirror builds and drops column buffers of that size for every segment,
/// so it serves them from the heap instead. The guard sets glibc's
/// initial thresholds again (fixed now, no longer raised) and trims, so the
/// steps after the mirror do not keep its freed buffers resident.
pub struct LargeBlocksFromHeap(());

impl LargeBlocksFromHeap {
    pub fn enable() -> Self {
        set_thresholds(64 << 20, 256 << 20);
        LargeBlocksFromHeap(())
    }
}

impl Drop for LargeBlocksFromHeap {
    fn drop(&mut self) {
        map_large_blocks();
        release_freed();
    }
}

#[allow(unused_variables)]
fn set_thresholds(mmap: i32, trim: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it takes the
    // allocator's lock and may be called from any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap);
        libc::mallopt(libc::M_TRIM_THRESHOLD, trim);
    }
}
