//! The sync of one table: the data files the lake says it should hold
//! against the ones its current snapshot holds.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use iceberg::arrow::{arrow_schema_to_schema_auto_assign_ids, schema_to_arrow_schema};
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, Literal, ManifestEntry, Struct,
    Transform, UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, ErrorKind, NamespaceIdent, TableCreation, TableIdent};

use super::arrow::{rewrite, schema_of, DATE};
use super::replace;
use super::{Options, Synced};
use crate::lake::derived::{LEGS_FILE, REQUESTS_FILE};
use crate::lake::iceberg::{open, said, Access, Commits, Opened};

pub fn run(opts: &Options) -> Result<Vec<Synced>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(publish(opts))
}

/// A data file the table should hold: made from `source`, at `name` under
/// the table's data folder (in its day's folder when partitioned).
struct Wanted {
    source: PathBuf,
    day: Option<NaiveDate>,
    /// The folder of this lake's files in its day (see [`lake_id`]).
    owner: String,
    name: String,
}

impl Wanted {
    /// Named by the source's stem and content, so that a rerun finds it and
    /// a changed source is a new file.
    fn new(source: &Path, day: Option<NaiveDate>, owner: &str) -> Result<(Self, bytes::Bytes)> {
        let bytes =
            std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
        let stem = source
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
        let wanted = Wanted {
            source: source.to_path_buf(),
            day,
            owner: format!("lake-{owner}"),
            name: format!("{stem}-{hash:016x}.parquet"),
        };
        Ok((wanted, bytes.into()))
    }

    fn path(&self, table: &Table) -> String {
        let data = format!("{}/data", table.metadata().location().trim_end_matches('/'));
        match self.day {
            Some(day) => format!("{data}/{DATE}={day}/{}/{}", self.owner, self.name),
            None => format!("{data}/{}/{}", self.owner, self.name),
        }
    }
}

async fn publish(opts: &Options) -> Result<Vec<Synced>> {
    // No mirror rewrites a lake file between its hash and its conversion.
    let _lake = crate::lake::LakeLock::shared(&opts.lake)?;
    let owner = lake_id(&opts.lake)?;
    let Opened { catalog, commits } = open(&opts.catalog, Access::Write).await?;
    let catalog = catalog.as_ref();
    let namespace = NamespaceIdent::new(opts.namespace.clone());
    let exists = || async {
        (catalog.namespace_exists(&namespace).await)
            .map_err(said)
            .context("cannot look up the namespace")
    };
    if !exists().await? {
        if let Err(e) = catalog.create_namespace(&namespace, HashMap::new()).await {
            // Another machine may have created it meanwhile.
            if !exists().await? {
                return Err(said(e)).context("cannot create the namespace");
            }
        }
    }
    let mut synced = Vec::new();
    let events = lake_days(opts)?;
    if !events.is_empty() {
        synced.push(sync(catalog, &commits, &namespace, "events", events, &owner).await?);
    }
    for (table, file) in [("legs", LEGS_FILE), ("requests", REQUESTS_FILE)] {
        let path = opts.derived.join(file);
        if path.is_file() {
            let sources = vec![(path, None)];
            synced.push(sync(catalog, &commits, &namespace, table, sources, &owner).await?);
        }
    }
    Ok(synced)
}

/// This lake's id, kept in `<lake>/_iceberg/lake-id`: its data files go in
/// a folder of that name in their day, and a publish removes only files of
/// its own folders, so lakes that share a day (an object delivered after
/// midnight holds the day before) never remove each other's files.
fn lake_id(lake: &Path) -> Result<String> {
    use std::io::Write;
    let dir = lake.join("_iceberg");
    let path = dir.join("lake-id");
    let valid = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let read = || -> Result<String> {
        let id = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match valid(id.trim()) {
            true => Ok(id.trim().to_string()),
            false => bail!("{} is not a lake id (16 hex digits): remove it, and the next publish writes a new one (its files then count as another lake's)", path.display()),
        }
    };
    if path.is_file() {
        return read();
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let seed = format!(
        "{} {:?} {}",
        lake.display(),
        std::time::SystemTime::now(),
        std::process::id()
    );
    let id = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()));
    // The first publish of a lake writes it; one running beside it reads it.
    // Linked into place whole, so no reader sees it half written.
    let tmp = crate::io::atomic::tmp_path(&path);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| file.write_all(id.as_bytes()).and_then(|()| file.sync_all()));
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        // Synced with its folder: a lake id lost in a crash would make the
        // lake's files another lake's, published twice.
        Ok(()) => std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map(|()| id)
            .with_context(|| format!("cannot write {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(),
        Err(e) => Err(e).with_context(|| {
            format!(
                "cannot write {} (the lake's folder must allow hard links)",
                path.display()
            )
        }),
    }
}

/// The lake files of the window with their day (their `date=` folder).
fn lake_days(opts: &Options) -> Result<Vec<(PathBuf, Option<NaiveDate>)>> {
    let mut out = Vec::new();
    for file in crate::lake::lake_files(&opts.lake, &opts.window)? {
        let path = PathBuf::from(&file);
        let day = (path.parent().and_then(Path::file_name))
            .and_then(|d| d.to_str()?.strip_prefix("date="))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .with_context(|| format!("{file}: not in a date= folder of the lake"))?;
        out.push((path, Some(day)));
    }
    Ok(out)
}

/// Brings table `name` to the files `sources` make: appends those it lacks,
/// and removes those of its days (or, unpartitioned, all) they no longer make.
async fn sync(
    catalog: &dyn Catalog,
    commits: &Commits,
    namespace: &NamespaceIdent,
    name: &str,
    sources: Vec<(PathBuf, Option<NaiveDate>)>,
    owner: &str,
) -> Result<Synced> {
    let ident = TableIdent::new(namespace.clone(), name.to_string());
    let mut wanted = Vec::new();
    let mut first = None;
    for (source, day) in &sources {
        let (w, bytes) = Wanted::new(source, *day, owner)?;
        first.get_or_insert((source.clone(), bytes));
        wanted.push(w);
    }
    let partitioned = sources.iter().any(|(_, day)| day.is_some());
    let mut written: HashMap<String, DataFile> = HashMap::new();
    for attempt in 1.. {
        let first = first.clone().expect("at least one source");
        let table = load_or_create(catalog, &ident, first, partitioned).await?;
        let entries = alive_files(&table).await?;
        let alive: BTreeSet<String> = entries.iter().map(|e| e.file_path().to_string()).collect();
        let stale = stale_files(&table, &alive, &wanted);
        let mut synced = Synced {
            table: name.to_string(),
            removed_files: stale.len(),
            ..Synced::default()
        };
        let added = to_add(&table, &wanted, &alive, &mut written, &mut synced).await?;
        if added.is_empty() && stale.is_empty() {
            return Ok(synced);
        }
        let committed = match stale.is_empty() {
            true => append(catalog, &table, added).await?,
            false => replace::commit(commits, &table, &entries, &stale, added).await?,
        };
        if committed {
            return Ok(synced);
        }
        if attempt == COMMIT_ATTEMPTS {
            bail!("table {ident}: other commits came first {COMMIT_ATTEMPTS} times; run publish again");
        }
        // Another machine committed meanwhile (perhaps the same files): what
        // is left to do is found again on the table as it is now.
        tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt))).await;
    }
    unreachable!("the loop returns")
}

/// The data files of `wanted` the table lacks, written (or taken from
/// `written`, by an earlier attempt), counted into `synced`.
async fn to_add(
    table: &Table,
    wanted: &[Wanted],
    alive: &BTreeSet<String>,
    written: &mut HashMap<String, DataFile>,
    synced: &mut Synced,
) -> Result<Vec<DataFile>> {
    let mut added = Vec::new();
    for w in wanted {
        let path = w.path(table);
        if alive.contains(&path) {
            synced.kept_files += 1;
            continue;
        }
        let file = match written.get(&path) {
            Some(file) => file.clone(),
            None => write(table, w, &path).await?,
        };
        synced.added_files += 1;
        synced.added_rows += file.record_count();
        written.insert(path, file.clone());
        added.push(file);
    }
    Ok(added)
}

async fn load_or_create(
    catalog: &dyn Catalog,
    ident: &TableIdent,
    first: (PathBuf, bytes::Bytes),
    partitioned: bool,
) -> Result<Table> {
    match catalog.load_table(ident).await {
        Ok(table) => Ok(table),
        Err(e) if e.kind() == ErrorKind::TableNotFound => {
            create(catalog, ident, first, partitioned).await
        }
        Err(e) => Err(said(e)).with_context(|| format!("cannot load table {ident}")),
    }
}

/// Appends `files` in one commit; `Ok(false)`: another commit came first
/// (iceberg's own retries exhausted, or the same files added meanwhile).
async fn append(catalog: &dyn Catalog, table: &Table, files: Vec<DataFile>) -> Result<bool> {
    let tx = Transaction::new(table);
    let tx = tx.fast_append().add_data_files(files).apply(tx)?;
    let ident = table.identifier();
    // iceberg's own retries of a conflict follow the table's `commit.retry.*`
    // properties, which the catalog gives: bounded here whatever they say.
    let committed = tokio::time::timeout(COMMIT_TIMEOUT, tx.commit(catalog)).await;
    match committed {
        Err(_) => bail!(
            "table {ident}: the commit took more than {} s; run publish again",
            COMMIT_TIMEOUT.as_secs()
        ),
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) if e.kind() == ErrorKind::CatalogCommitConflicts => Ok(false),
        Ok(Err(e)) if e.message().contains("already referenced by table") => Ok(false),
        Ok(Err(e)) => Err(said(e)).with_context(|| format!("cannot commit to table {ident}")),
    }
}

/// Tries of a commit that other machines' commits keep beating, each after
/// the catalog's own retries of a conflict.
const COMMIT_ATTEMPTS: u32 = 5;

/// Longest an append's commit may take with iceberg's retries.
const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Writes `w` as the table's data file at `path`.
async fn write(table: &Table, w: &Wanted, path: &str) -> Result<DataFile> {
    let target = Arc::new(schema_to_arrow_schema(table.metadata().current_schema())?);
    let bytes =
        std::fs::read(&w.source).with_context(|| format!("cannot read {}", w.source.display()))?;
    let day = w.day.map(days_since_epoch);
    let (written, rows) = rewrite(bytes.into(), &target, day)
        .with_context(|| format!("cannot convert {}", w.source.display()))?;
    let size = written.len() as u64;
    (table
        .file_io()
        .new_output(path)?
        .write(written.into())
        .await)
        .with_context(|| format!("cannot write {path}"))?;
    data_file(table, path.to_string(), day, rows, size)
}

fn days_since_epoch(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

fn data_file(
    table: &Table,
    path: String,
    day: Option<i32>,
    rows: u64,
    size: u64,
) -> Result<DataFile> {
    let partition = match day {
        Some(day) => Struct::from_iter([Some(Literal::date(day))]),
        None => Struct::empty(),
    };
    Ok(DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path(path)
        .file_format(DataFileFormat::Parquet)
        .partition(partition)
        .partition_spec_id(table.metadata().default_partition_spec_id())
        .record_count(rows)
        .file_size_in_bytes(size)
        .build()?)
}

/// Creates the table with the columns of its first file; another machine
/// creating it meanwhile is no error.
async fn create(
    catalog: &dyn Catalog,
    ident: &TableIdent,
    (source, first): (PathBuf, bytes::Bytes),
    partitioned: bool,
) -> Result<Table> {
    let columns = schema_of(first, partitioned)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let schema = arrow_schema_to_schema_auto_assign_ids(&columns)?;
    let mut creation = TableCreation::builder()
        .name(ident.name().to_string())
        .schema(schema.clone())
        .build();
    if partitioned {
        let date = (schema.field_by_name(DATE)).expect("schema_of adds it").id;
        let spec = UnboundPartitionSpec::builder()
            .add_partition_field(date, DATE, Transform::Identity)?
            .build();
        creation.partition_spec = Some(spec);
    }
    match catalog.create_table(ident.namespace(), creation).await {
        Ok(table) => Ok(table),
        // Created by another machine meanwhile (the SQL catalog says so as a
        // broken unique constraint, not as "already exists").
        Err(e) => match catalog.load_table(ident).await {
            Ok(table) => Ok(table),
            Err(_) => Err(said(e)).with_context(|| format!("cannot create table {ident}")),
        },
    }
}

/// The entries of the data files the table's current snapshot holds.
async fn alive_files(table: &Table) -> Result<Vec<ManifestEntry>> {
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return Ok(Vec::new());
    };
    let list = table.manifest_list_reader(snapshot).load().await?;
    let mut alive = Vec::new();
    for manifest in list.entries() {
        let manifest = manifest.load_manifest(table.file_io()).await?;
        let entries = manifest.entries().iter().filter(|e| e.is_alive());
        alive.extend(entries.map(|e| e.as_ref().clone()));
    }
    Ok(alive)
}

/// Files of the days (or, unpartitioned, of the table) this publish owns
/// that the lake no longer makes.
fn stale_files(table: &Table, alive: &BTreeSet<String>, wanted: &[Wanted]) -> BTreeSet<String> {
    let paths: BTreeSet<String> = wanted.iter().map(|w| w.path(table)).collect();
    let owned: BTreeSet<String> = (wanted.iter())
        .map(|w| {
            w.path(table)
                .rsplit_once('/')
                .map(|(dir, _)| dir.to_string())
                .unwrap_or_default()
        })
        .collect();
    (alive.iter())
        .filter(|p| !paths.contains(*p))
        .filter(|p| {
            p.rsplit_once('/')
                .is_some_and(|(dir, _)| owned.contains(dir))
        })
        .cloned()
        .collect()
}
