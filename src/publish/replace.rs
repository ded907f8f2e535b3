//! A commit that removes data files and adds others in one snapshot, for a
//! lake file that changed after it was published. iceberg-rust 0.10 commits
//! appends only (its other snapshot actions and the catalog commit request
//! are private to it), so the snapshot is written here with its public spec
//! types, as its own append does, and swapped in through the SQL catalog's
//! compare-and-swap of the table's metadata location: the same row update
//! the catalog makes, so a concurrent commit of either makes the other retry.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use anyhow::{Context, Result};
use iceberg::spec::{
    DataFile, DataFileFormat, FormatVersion, ManifestEntry, ManifestListWriter,
    ManifestWriterBuilder, Operation, Snapshot, SnapshotReference, SnapshotRetention, Summary,
    MAIN_BRANCH,
};
use iceberg::table::Table;
use iceberg::{MetadataLocation, TableIdent, TableUpdate};
use sqlx::sqlite::SqlitePool;

use super::tables::CATALOG_NAME;

/// Replaces the data files `stale` of `table` (among `alive`, its current
/// entries) with `added`. `Ok(false)`: another commit came first.
pub async fn commit(
    pool: &SqlitePool,
    table: &Table,
    alive: &[ManifestEntry],
    stale: &BTreeSet<String>,
    added: Vec<DataFile>,
) -> Result<bool> {
    let metadata = table.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        anyhow::bail!("table {} is not of format version 2", table.identifier());
    }
    let snapshot_id = new_snapshot_id(table);
    let sequence = metadata.next_sequence_number();
    let meta_dir = format!("{}/metadata", metadata.location().trim_end_matches('/'));
    let tag = uuid_like(snapshot_id);
    let manifest_path = format!("{meta_dir}/{tag}-m0.{}", DataFileFormat::Avro);
    let mut manifest = ManifestWriterBuilder::new(
        table.file_io().new_output(&manifest_path)?,
        Some(snapshot_id),
        metadata.current_schema().clone(),
        metadata.default_partition_spec().as_ref().clone(),
    )
    .build_v2_data();
    let (mut added_rows, mut deleted_rows) = (0u64, 0u64);
    for entry in alive {
        let (seq, file_seq) = (
            entry.sequence_number.unwrap_or(0),
            entry.file_sequence_number,
        );
        if stale.contains(entry.file_path()) {
            deleted_rows += entry.record_count();
            manifest.add_delete_file(entry.data_file().clone(), seq, file_seq)?;
        } else {
            let origin = entry.snapshot_id.unwrap_or(snapshot_id);
            manifest.add_existing_file(entry.data_file().clone(), origin, seq, file_seq)?;
        }
    }
    let added_files = added.len();
    for file in added {
        added_rows += file.record_count();
        manifest.add_file(file, sequence)?;
    }
    let manifest = manifest.write_manifest_file().await?;
    let list_path = format!(
        "{meta_dir}/snap-{snapshot_id}-1-{tag}.{}",
        DataFileFormat::Avro
    );
    let parent = metadata.current_snapshot_id();
    let mut list = ManifestListWriter::v2(
        table.file_io().new_output(&list_path)?.writer().await?,
        snapshot_id,
        parent,
        sequence,
    );
    list.add_manifests([manifest].into_iter())?;
    list.close().await?;
    let summary = Summary {
        operation: Operation::Overwrite,
        additional_properties: HashMap::from([
            ("added-data-files".into(), added_files.to_string()),
            ("deleted-data-files".into(), stale.len().to_string()),
            ("added-records".into(), added_rows.to_string()),
            ("deleted-records".into(), deleted_rows.to_string()),
        ]),
    };
    let snapshot = Snapshot::builder()
        .with_manifest_list(list_path)
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent)
        .with_sequence_number(sequence)
        .with_summary(summary)
        .with_schema_id(metadata.current_schema_id())
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .build();
    let current = table
        .metadata_location()
        .context("the table has no metadata file")?
        .to_string();
    let mut builder = metadata.clone().into_builder(Some(current.clone()));
    for update in [
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_string(),
            reference: SnapshotReference::new(
                snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        },
    ] {
        builder = update.apply(builder)?;
    }
    let next = builder.build()?.metadata;
    let location = MetadataLocation::from_str(&current)?
        .with_next_version()
        .with_new_metadata(&next);
    next.write_to(table.file_io(), &location).await?;
    swap(pool, table.identifier(), &current, &location.to_string()).await
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
fn uuid_like(snapshot_id: i64) -> String {
    format!("{:016x}-{:08x}", snapshot_id, std::process::id())
}
