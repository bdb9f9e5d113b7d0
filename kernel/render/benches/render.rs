//! Rendering the head of a 1,000,000-row, 6-column result must cost the same as a small one:
//! the renderer reads only `max_rows` rows.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use criterion::{criterion_group, criterion_main, Criterion};
use lakehouse_render::{render_batches, RenderOptions};

const ROWS: usize = 1_000_000;
const BATCH: usize = 8192;

fn million_rows() -> (Arc<Schema>, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            true,
        ),
        Field::new("ok", DataType::Boolean, true),
    ]));
    let mut batches = Vec::new();
    let mut start = 0;
    while start < ROWS {
        let n = BATCH.min(ROWS - start);
        let ids = start as i64..(start + n) as i64;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from_iter(ids.clone().map(|i| {
                (i % 7 != 0).then(|| format!("customer <{i}> & a fairly long name to be cut"))
            }))),
            Arc::new(Float64Array::from_iter(
                ids.clone().map(|i| (i % 5 != 0).then_some(i as f64 / 3.0)),
            )),
            Arc::new(
                Decimal128Array::from_iter(ids.clone().map(|i| Some(i as i128 * 101)))
                    .with_precision_and_scale(18, 2)
                    .unwrap(),
            ),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    ids.clone().map(|i| 1_737_021_600_000_000 + i * 1_000_000),
                )
                .with_timezone("+00:00"),
            ),
            Arc::new(BooleanArray::from_iter(ids.map(|i| Some(i % 2 == 0)))),
        ];
        batches.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
        start += n;
    }
    (schema, batches)
}

fn bench(c: &mut Criterion) {
    let (schema, batches) = million_rows();
    let opts = RenderOptions {
        footer: Some("12 ms · ref main".into()),
        ..RenderOptions::default()
    };
    c.bench_function("render 50 of 1,000,000 rows x 6 cols", |b| {
        b.iter(|| render_batches(black_box(&schema), black_box(&batches), ROWS, &opts))
    });
    // The same head in one single 1,000,000-row batch (slicing keeps it bounded).
    let one = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let one = [one];
    c.bench_function("render 50 of one 1,000,000-row batch", |b| {
        b.iter(|| render_batches(black_box(&schema), black_box(&one), ROWS, &opts))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
