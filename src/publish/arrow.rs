//! The lake's Parquet files as an Iceberg table's data files: read with
//! arrow-rs, cast to the table's Arrow schema (text as `string`, times in
//! microseconds as Iceberg has them, a partition's `date` added), written
//! with the field ids Iceberg readers match columns by.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow_array::{new_null_array, Array, ArrayRef, Date32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// The column a lake file's day becomes (its `date=` folder, Hive style).
pub const DATE: &str = "date";

/// Arrow types Iceberg has: text of any width as `Utf8`, times in
/// microseconds (Iceberg has no milliseconds), the rest as they are.
fn iceberg_type(t: &DataType) -> DataType {
    match t {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Dictionary(_, value) => iceberg_type(value),
        other => other.clone(),
    }
}

/// The Arrow schema of a table made from `file`: its columns in Iceberg's
/// types, and `date` when the table is partitioned by day.
pub fn schema_of(file: bytes::Bytes, with_date: bool) -> Result<ArrowSchema> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mut fields: Vec<Field> = (reader.schema().fields().iter())
        .map(|f| Field::new(f.name(), iceberg_type(f.data_type()), true))
        .collect();
    if with_date {
        fields.push(Field::new(DATE, DataType::Date32, true));
    }
    Ok(ArrowSchema::new(fields))
}

/// The rows of a Parquet file in `target`'s columns (a column the file lacks
/// is null), `date` set to `day` (days since 1970-01-01) when `target` has
/// it, written as one Parquet file; returns its bytes and rows.
pub fn rewrite(file: bytes::Bytes, target: &SchemaRef, day: Option<i32>) -> Result<(Vec<u8>, u64)> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), target.clone(), Some(props))?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.context("cannot read a row group")?;
        rows += batch.num_rows() as u64;
        writer.write(&conform(&batch, target, day)?)?;
    }
    Ok((writer.into_inner()?, rows))
}

fn conform(batch: &RecordBatch, target: &SchemaRef, day: Option<i32>) -> Result<RecordBatch> {
    let n = batch.num_rows();
    // The table's columns are those of the first file published: a column
    // added since would be dropped without a word.
    if let Some(extra) =
        (batch.schema().fields().iter()).find(|f| target.field_with_name(f.name()).is_err())
    {
        anyhow::bail!("column {} is not in the table (made from an older lake file): publish to a new namespace", extra.name());
    }
    let strict = arrow_cast::CastOptions {
        safe: false,
        ..Default::default()
    };
    let columns: Vec<ArrayRef> = (target.fields().iter())
        .map(|field| -> Result<ArrayRef> {
            if field.name() == DATE {
                if let Some(day) = day {
                    return Ok(Arc::new(Date32Array::from(vec![day; n])));
                }
            }
            match batch.column_by_name(field.name()) {
                Some(column) => {
                    Ok(
                        arrow_cast::cast_with_options(column, field.data_type(), &strict)
                            .with_context(|| format!("column {}", field.name()))?,
                    )
                }
                None => Ok(new_null_array(field.data_type(), n)),
            }
        })
        .collect::<Result<_>>()?;
    debug_assert!(columns.iter().all(|c| c.len() == n));
    Ok(RecordBatch::try_new(target.clone(), columns)?)
}
