//! A catalog's table as one Parquet file, for `report --requests`: scanned
//! through iceberg-rust (its deletes applied, its files read wherever the
//! catalog keeps them) and written batch by batch.

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context, Result};
use futures::TryStreamExt;
use iceberg::{ErrorKind, NamespaceIdent, TableIdent};
use parquet::arrow::ArrowWriter;

use super::{open, said, Access, Opened, TableRef};

pub fn read_table(table: &TableRef, dest: &Path) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(read(table, dest))
}

async fn read(t: &TableRef, dest: &Path) -> Result<()> {
    let Opened { catalog, .. } = open(&t.catalog, Access::Read).await?;
    let ident = TableIdent::new(NamespaceIdent::new(t.namespace.clone()), t.name.clone());
    let table = match catalog.load_table(&ident).await {
        Ok(table) => table,
        Err(e) if e.kind() == ErrorKind::TableNotFound => {
            bail!(
                "no file or folder {ident}, and no table {ident} in {}",
                t.catalog.place()
            )
        }
        Err(e) => return Err(said(e)).with_context(|| format!("cannot load table {ident}")),
    };
    let scan = (table.scan().select_all().build())
        .with_context(|| format!("cannot scan table {ident}"))?;
    let mut batches =
        (scan.to_arrow().await).with_context(|| format!("cannot read table {ident}"))?;
    let file = File::create(dest).with_context(|| format!("cannot write {}", dest.display()))?;
    let schema = iceberg::arrow::schema_to_arrow_schema(table.metadata().current_schema())?;
    let mut writer = None;
    while let Some(batch) =
        (batches.try_next().await).with_context(|| format!("cannot read table {ident}"))?
    {
        let writer = match &mut writer {
            Some(w) => w,
            None => writer.insert(ArrowWriter::try_new(
                file.try_clone()?,
                batch.schema(),
                None,
            )?),
        };
        writer.write(&batch)?;
    }
    // An empty table is a file with its columns and no rows.
    let writer = match writer {
        Some(w) => w,
        None => ArrowWriter::try_new(file, schema.into(), None)?,
    };
    writer
        .close()
        .with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(())
}
