//! A commit that removes data files and adds others in one snapshot, for a
//! lake file that changed after it was published. iceberg-rust 0.10 commits
//! appends only (its other snapshot actions and the catalog commit request
//! are private to it), so the snapshot is written here with its public spec
//! types, as its own append does, and swapped in as the catalog itself
//! would: for the SQL catalog, by the compare-and-swap of the table's
//! metadata location it makes; for a REST catalog, by a commit request whose
//! requirements (same table, same current snapshot) the catalog checks. A
//! concurrent commit of either kind makes the other retry.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use iceberg::spec::{
    DataContentType, DataFile, FormatVersion, ManifestEntry, ManifestFile, ManifestListWriter,
    ManifestWriterBuilder, Operation, Snapshot, SnapshotReference, SnapshotRetention, Summary,
    MAIN_BRANCH,
};
use iceberg::table::Table;
use iceberg::{MetadataLocation, TableIdent, TableRequirement, TableUpdate};
use sqlx::sqlite::SqlitePool;

use crate::lake::iceberg::{Commits, CATALOG_NAME};

/// Replaces the data files `stale` of `table` (among `alive`, its current
/// entries) with `added`. `Ok(false)`: another commit came first.
pub async fn commit(
    commits: &Commits,
    table: &Table,
    alive: &[ManifestEntry],
    stale: &BTreeSet<String>,
    added: Vec<DataFile>,
) -> Result<bool> {
    if table.metadata().format_version() != FormatVersion::V2 {
        bail!("table {} is not of format version 2", table.identifier());
    }
    let snapshot_id = new_snapshot_id(table);
    let (manifest, summary) = write_manifest(table, snapshot_id, alive, stale, added).await?;
    // A commit another one beat leaves nothing behind but its data files
    // (named by content: the retry uses them).
    let mut written = vec![manifest.manifest_path.clone()];
    let snapshot = write_snapshot(table, snapshot_id, manifest, summary).await?;
    written.push(snapshot.manifest_list().to_string());
    let updates = vec![
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_string(),
            reference: SnapshotReference::new(
                snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        },
    ];
    let committed = match commits {
        Commits::Sqlite(pool) => swap_metadata(pool, table, updates, &mut written).await,
        Commits::Rest(rest) => {
            let requirements = vec![
                TableRequirement::UuidMatch {
                    uuid: table.metadata().uuid(),
                },
                TableRequirement::RefSnapshotIdMatch {
                    r#ref: MAIN_BRANCH.to_string(),
                    snapshot_id: table.metadata().current_snapshot_id(),
                },
            ];
            rest.commit(table.identifier(), requirements, updates).await
        }
    };
    if let Ok(false) = committed {
        for path in written {
            let _ = table.file_io().delete(path).await;
        }
    }
    committed
}

/// Writes the table's next metadata file and swaps it in.
async fn swap_metadata(
    pool: &SqlitePool,
    table: &Table,
    updates: Vec<TableUpdate>,
    written: &mut Vec<String>,
) -> Result<bool> {
    let current = (table.metadata_location())
        .context("the table has no metadata file")?
        .to_string();
    let mut builder = table.metadata().clone().into_builder(Some(current.clone()));
    for update in updates {
        builder = update.apply(builder)?;
    }
    let next = builder.build()?.metadata;
    let location = (MetadataLocation::from_str(&current)?)
        .with_next_version()
        .with_new_metadata(&next);
    next.write_to(table.file_io(), &location).await?;
    written.push(location.to_string());
    swap(pool, table.identifier(), &current, &location.to_string()).await
}

/// The snapshot's one manifest: every alive file kept (`Existing`, with its
/// own snapshot and sequence numbers) or deleted, and the added ones; and
/// the summary of what changed.
async fn write_manifest(
    table: &Table,
    snapshot_id: i64,
    alive: &[ManifestEntry],
    stale: &BTreeSet<String>,
    added: Vec<DataFile>,
) -> Result<(ManifestFile, Summary)> {
    let metadata = table.metadata();
    let path = format!("{}/{}-m0.avro", meta_dir(table), tag(snapshot_id));
    let mut manifest = ManifestWriterBuilder::new(
        table.file_io().new_output(&path)?,
        Some(snapshot_id),
        metadata.current_schema().clone(),
        metadata.default_partition_spec().as_ref().clone(),
    )
    .build_v2_data();
    let mut rows = [0u64; 3]; // added, deleted, total
    for entry in alive {
        if entry.content_type() != DataContentType::Data {
            bail!("table {} has delete files (another engine deleted rows): publish replaces whole data files only; compact the table first", table.identifier());
        }
        let seq = (entry.sequence_number).context("a manifest entry without a sequence number")?;
        let (file, file_seq) = (entry.data_file().clone(), entry.file_sequence_number);
        if stale.contains(entry.file_path()) {
            rows[1] += entry.record_count();
            manifest.add_delete_file(file, seq, file_seq)?;
        } else {
            rows[2] += entry.record_count();
            let origin = (entry.snapshot_id).context("a manifest entry without a snapshot id")?;
            manifest.add_existing_file(file, origin, seq, file_seq)?;
        }
    }
    let files = [
        added.len(),
        stale.len(),
        alive.len() - stale.len() + added.len(),
    ];
    for file in added {
        rows[0] += file.record_count();
        rows[2] += file.record_count();
        manifest.add_file(file, metadata.next_sequence_number())?;
    }
    let summary = Summary {
        operation: Operation::Overwrite,
        additional_properties: HashMap::from([
            ("added-data-files".into(), files[0].to_string()),
            ("deleted-data-files".into(), files[1].to_string()),
            ("added-records".into(), rows[0].to_string()),
            ("deleted-records".into(), rows[1].to_string()),
            // The totals readers (and iceberg's next summaries) carry forward.
            ("total-data-files".into(), files[2].to_string()),
            ("total-records".into(), rows[2].to_string()),
            ("total-delete-files".into(), "0".into()),
            ("total-position-deletes".into(), "0".into()),
            ("total-equality-deletes".into(), "0".into()),
        ]),
    };
    Ok((manifest.write_manifest_file().await?, summary))
}

/// The manifest list holding `manifest`, and the snapshot pointing at it.
async fn write_snapshot(
    table: &Table,
    snapshot_id: i64,
    manifest: ManifestFile,
    summary: Summary,
) -> Result<Snapshot> {
    let metadata = table.metadata();
    let (parent, sequence) = (
        metadata.current_snapshot_id(),
        metadata.next_sequence_number(),
    );
    let path = format!(
        "{}/snap-{snapshot_id}-1-{}.avro",
        meta_dir(table),
        tag(snapshot_id)
    );
    let output = table.file_io().new_output(&path)?.writer().await?;
    let mut list = ManifestListWriter::v2(output, snapshot_id, parent, sequence);
    list.add_manifests([manifest].into_iter())?;
    list.close().await?;
    Ok(Snapshot::builder()
        .with_manifest_list(path)
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent)
        .with_sequence_number(sequence)
        .with_summary(summary)
        .with_schema_id(metadata.current_schema_id())
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .build())
}

fn meta_dir(table: &Table) -> String {
    format!(
        "{}/metadata",
        table.metadata().location().trim_end_matches('/')
    )
}

/// The catalog's compare-and-swap of a table's metadata file (the row of
/// the JDBC catalog schema that Java, Python and Rust share).
async fn swap(pool: &SqlitePool, ident: &TableIdent, current: &str, next: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? \
         WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?",
    )
    .bind(next)
    .bind(current)
    .bind(CATALOG_NAME)
    .bind(ident.namespace().join("."))
    .bind(ident.name())
    .bind(current)
    .execute(pool)
    .await
    .with_context(|| format!("cannot commit to table {ident}"))?;
    Ok(done.rows_affected() == 1)
}

/// A positive id no snapshot of the table has.
fn new_snapshot_id(table: &Table) -> i64 {
    let taken: BTreeSet<i64> = table
        .metadata()
        .snapshots()
        .map(|s| s.snapshot_id())
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 32;
    (0u64..)
        .map(|i| (xxhash_rust::xxh3::xxh3_64(&(seed + i).to_le_bytes()) >> 1) as i64)
        .find(|id| *id > 0 && !taken.contains(id))
        .expect("an unused id")
}

/// Files of one commit share a name part, as iceberg names its own.
fn tag(snapshot_id: i64) -> String {
    format!("{:016x}-{:08x}", snapshot_id, std::process::id())
}
