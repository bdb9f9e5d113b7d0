//! The Parquet writer settings of a table, from Iceberg's `write.parquet.*` table properties
//! with Iceberg Java's defaults (zstd, 128 MiB row groups, 1 MiB pages).
//!
//! iceberg-rust 0.10's `ParquetWriterBuilder::from_table_properties` translates none of these
//! keys (its TODO), so files came out uncompressed with parquet-rs's 1-million-row groups.
//! Worth offering upstream as that constructor's body.

use std::collections::HashMap;

use datafusion::parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

/// `write.parquet.compression-codec`: zstd, gzip, snappy, lz4, brotli or uncompressed.
pub const CODEC: &str = "write.parquet.compression-codec";
/// `write.parquet.compression-level`: the codec's level (zstd 1–22, gzip 0–9, brotli 0–11).
pub const LEVEL: &str = "write.parquet.compression-level";
/// `write.parquet.row-group-size-bytes`: a row group is closed once it holds this many bytes.
pub const ROW_GROUP_BYTES: &str = "write.parquet.row-group-size-bytes";
/// `write.parquet.page-size-bytes`: the target size of a data page.
pub const PAGE_BYTES: &str = "write.parquet.page-size-bytes";
/// `write.parquet.dict-size-bytes`: the largest dictionary page before falling back to plain.
pub const DICT_BYTES: &str = "write.parquet.dict-size-bytes";
/// `write.target-file-size-bytes`: honoured by iceberg-rust's rolling writer; checked here.
pub const TARGET_FILE_BYTES: &str = "write.target-file-size-bytes";

/// Iceberg Java's default codec (since 1.4).
const DEFAULT_CODEC: &str = "zstd";
/// parquet-mr's zstd level when none is set (parquet-rs would use 1).
const DEFAULT_ZSTD_LEVEL: i32 = 3;
const MAX_ROW_GROUP_ROWS: usize = 1024 * 1024;
const DEFAULT_ROW_GROUP_BYTES: usize = 128 * 1024 * 1024;
const DEFAULT_PAGE_BYTES: usize = 1024 * 1024;
const DEFAULT_DICT_BYTES: usize = 2 * 1024 * 1024;

/// The codecs a table may name, as Iceberg spells them.
const CODECS: &str = "zstd, gzip, snappy, lz4, brotli, uncompressed";

/// The writer properties for a table with `properties`, or a message naming the property, its
/// value and the values it takes.
pub fn writer_properties(properties: &HashMap<String, String>) -> Result<WriterProperties, String> {
    let codec = properties
        .get(CODEC)
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| DEFAULT_CODEC.to_string());
    let level = match properties.get(LEVEL).map(|s| s.trim()) {
        None | Some("") => None,
        Some(v) => Some(v.parse::<i32>().map_err(|_| {
            format!(
                "'{LEVEL}' = '{v}' is not a whole number; set the codec's level, e.g. '3' for zstd"
            )
        })?),
    };
    let bad_level = |range: &str| {
        format!(
            "'{LEVEL}' = '{}' is out of range for {codec}: it takes {range}",
            level.unwrap_or_default()
        )
    };
    let compression = match codec.as_str() {
        "zstd" => Compression::ZSTD(
            ZstdLevel::try_new(level.unwrap_or(DEFAULT_ZSTD_LEVEL))
                .map_err(|_| bad_level("1 to 22"))?,
        ),
        "gzip" => Compression::GZIP(match level {
            None => GzipLevel::default(),
            Some(l) => u32::try_from(l)
                .ok()
                .and_then(|l| GzipLevel::try_new(l).ok())
                .ok_or_else(|| bad_level("0 to 9"))?,
        }),
        "brotli" => Compression::BROTLI(match level {
            None => BrotliLevel::default(),
            Some(l) => u32::try_from(l)
                .ok()
                .and_then(|l| BrotliLevel::try_new(l).ok())
                .ok_or_else(|| bad_level("0 to 11"))?,
        }),
        // Iceberg Java's "lz4" is Hadoop's framing; LZ4_RAW is what readers agree on.
        "lz4" | "lz4_raw" => Compression::LZ4_RAW,
        "snappy" => Compression::SNAPPY,
        "uncompressed" | "none" => Compression::UNCOMPRESSED,
        other => {
            return Err(format!(
                "'{CODEC}' = '{other}' is not a codec the kernel writes; use one of {CODECS}"
            ))
        }
    };
    let row_group = bytes(properties, ROW_GROUP_BYTES, DEFAULT_ROW_GROUP_BYTES)?;
    let page = bytes(properties, PAGE_BYTES, DEFAULT_PAGE_BYTES)?;
    let dict = bytes(properties, DICT_BYTES, DEFAULT_DICT_BYTES)?;
    bytes(properties, TARGET_FILE_BYTES, 1)?;
    Ok(WriterProperties::builder()
        .set_compression(compression)
        // Iceberg Java closes row groups by size only; parquet-rs's cap of 1,048,576 rows stays
        // as well, so a file of many narrow rows still has several row groups for the scan to
        // read in parallel (a split is a set of whole row groups).
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(row_group))
        .set_data_page_size_limit(page)
        .set_dictionary_page_size_limit(dict)
        .build())
}

/// A positive byte count from `key`, or `default` when it is not set.
fn bytes(properties: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, String> {
    match properties.get(key).map(|s| s.trim()) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "'{key}' = '{v}' is not a positive number of bytes, e.g. '{default}'"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_iceberg_javas() {
        let p = writer_properties(&HashMap::new()).unwrap();
        let col = datafusion::parquet::schema::types::ColumnPath::from("c");
        assert_eq!(
            p.compression(&col),
            Compression::ZSTD(ZstdLevel::try_new(3).unwrap())
        );
        assert_eq!(p.max_row_group_bytes(), Some(128 * 1024 * 1024));
        assert_eq!(p.max_row_group_row_count(), Some(1024 * 1024));
        assert_eq!(p.data_page_size_limit(), 1024 * 1024);
    }

    #[test]
    fn codec_level_and_sizes_are_read() {
        let col = datafusion::parquet::schema::types::ColumnPath::from("c");
        let p = writer_properties(&props(&[
            (CODEC, "GZIP"),
            (LEVEL, "9"),
            (ROW_GROUP_BYTES, "1048576"),
        ]))
        .unwrap();
        assert_eq!(
            p.compression(&col),
            Compression::GZIP(GzipLevel::try_new(9).unwrap())
        );
        assert_eq!(p.max_row_group_bytes(), Some(1048576));
        let p = writer_properties(&props(&[(CODEC, "snappy")])).unwrap();
        assert_eq!(p.compression(&col), Compression::SNAPPY);
        let p = writer_properties(&props(&[(CODEC, "uncompressed")])).unwrap();
        assert_eq!(p.compression(&col), Compression::UNCOMPRESSED);
    }

    #[test]
    fn bad_values_name_the_property_and_the_choices() {
        let e = writer_properties(&props(&[(CODEC, "lzo")])).unwrap_err();
        assert!(
            e.contains(CODEC) && e.contains("'lzo'") && e.contains("snappy"),
            "{e}"
        );
        let e = writer_properties(&props(&[(LEVEL, "40")])).unwrap_err();
        assert!(e.contains("1 to 22"), "{e}");
        let e = writer_properties(&props(&[(CODEC, "gzip"), (LEVEL, "-1")])).unwrap_err();
        assert!(e.contains("0 to 9"), "{e}");
        let e = writer_properties(&props(&[(ROW_GROUP_BYTES, "0")])).unwrap_err();
        assert!(e.contains(ROW_GROUP_BYTES), "{e}");
        let e = writer_properties(&props(&[(TARGET_FILE_BYTES, "big")])).unwrap_err();
        assert!(e.contains(TARGET_FILE_BYTES), "{e}");
    }
}
