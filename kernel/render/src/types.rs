//! SQL-ish names for Arrow data types, as shown under each column name.

use arrow::datatypes::{DataType, IntervalUnit, TimeUnit, UnionMode};

/// The SQL-ish name of an Arrow type, as a user of a SQL notebook reads it.
///
/// Integers use SQL names (`Int64` → `bigint`), all string encodings are `string`,
/// nested types follow Spark/Iceberg spelling (`array<bigint>`, `struct<a: bigint, b: string>`,
/// `map<string, double>`). Encodings that do not change the values (dictionary, run-end)
/// show the type of their values.
///
/// ```
/// use arrow::datatypes::DataType;
/// assert_eq!(lakehouse_render::sql_type_name(&DataType::Int64), "bigint");
/// assert_eq!(lakehouse_render::sql_type_name(&DataType::Decimal128(10, 2)), "decimal(10,2)");
/// ```
pub fn sql_type_name(dt: &DataType) -> String {
    match dt {
        DataType::Null => "null".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::UInt8 => "tinyint unsigned".into(),
        DataType::UInt16 => "smallint unsigned".into(),
        DataType::UInt32 => "int unsigned".into(),
        DataType::UInt64 => "bigint unsigned".into(),
        DataType::Float16 => "half".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::FixedSizeBinary(n) => format!("binary({n})"),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(tz)) => format!("timestamptz({tz})"),
        DataType::Duration(unit) => format!("duration({})", unit_name(unit)),
        DataType::Interval(IntervalUnit::YearMonth) => "interval year to month".into(),
        DataType::Interval(IntervalUnit::DayTime) => "interval day to second".into(),
        DataType::Interval(IntervalUnit::MonthDayNano) => "interval".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => format!("array<{}>", sql_type_name(f.data_type())),
        DataType::FixedSizeList(f, n) => format!("array<{}>[{n}]", sql_type_name(f.data_type())),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), sql_type_name(f.data_type())))
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{}, {}>",
                sql_type_name(kv[0].data_type()),
                sql_type_name(kv[1].data_type())
            ),
            other => format!("map<{}>", sql_type_name(other)),
        },
        DataType::Union(fields, mode) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(_, f)| format!("{}: {}", f.name(), sql_type_name(f.data_type())))
                .collect();
            let mode = match mode {
                UnionMode::Sparse => "",
                UnionMode::Dense => "dense ",
            };
            format!("{mode}union<{}>", inner.join(", "))
        }
        DataType::Dictionary(_, values) => sql_type_name(values),
        DataType::RunEndEncoded(_, values) => sql_type_name(values.data_type()),
    }
}

fn unit_name(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// Whether values of this type are numbers, which are right-aligned.
pub(crate) fn is_numeric(dt: &DataType) -> bool {
    match dt {
        DataType::Dictionary(_, values) => is_numeric(values),
        DataType::RunEndEncoded(_, values) => is_numeric(values.data_type()),
        other => other.is_numeric(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Fields};
    use std::sync::Arc;

    #[test]
    fn scalar_names() {
        assert_eq!(sql_type_name(&DataType::Int64), "bigint");
        assert_eq!(sql_type_name(&DataType::Int32), "int");
        assert_eq!(sql_type_name(&DataType::Float64), "double");
        assert_eq!(sql_type_name(&DataType::Boolean), "boolean");
        assert_eq!(sql_type_name(&DataType::Date32), "date");
        for s in [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View] {
            assert_eq!(sql_type_name(&s), "string");
        }
        assert_eq!(sql_type_name(&DataType::Decimal128(38, 4)), "decimal(38,4)");
        assert_eq!(
            sql_type_name(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "timestamp"
        );
        assert_eq!(
            sql_type_name(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("+00:00".into())
            )),
            "timestamptz(+00:00)"
        );
        assert_eq!(
            sql_type_name(&DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(DataType::Utf8)
            )),
            "string"
        );
    }

    #[test]
    fn nested_names() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Int64, true)));
        assert_eq!(sql_type_name(&list), "array<bigint>");
        let st = DataType::Struct(Fields::from(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", list.clone(), true),
        ]));
        assert_eq!(sql_type_name(&st), "struct<a: bigint, b: array<bigint>>");
        let map = DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", DataType::Utf8, false),
                    Field::new("value", DataType::Float64, true),
                ])),
                false,
            )),
            false,
        );
        assert_eq!(sql_type_name(&map), "map<string, double>");
    }

    #[test]
    fn numeric_alignment() {
        assert!(is_numeric(&DataType::Decimal128(10, 2)));
        assert!(is_numeric(&DataType::UInt8));
        assert!(!is_numeric(&DataType::Utf8));
        assert!(!is_numeric(&DataType::Date32));
    }
}
