//! Embeddings as a Parquet table, for archives too large for one stacked array: a row per frame
//! (or per file with `--pool mean`), written in row groups as inputs finish, so memory stays
//! bounded by one row group whatever the number of files.
//!
//! Columns, readable as they are by pyarrow, pandas, polars and DuckDB:
//! - `file` (string): the input path;
//! - `layer` (int32), with `--layer all`: the hidden state;
//! - `frame` (int32) and `timestamp` (double, seconds, the frame's time as the model reports it),
//!   unless pooled;
//! - `embedding` (list<float>): the vector.
//!
//! Snappy-compressed; the key-value metadata records the model and the embedding size.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::outputs::Embeddings;

/// Why a table cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The Parquet library refused.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The file system refused.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Rows that do not fit the table, or a table that is not one of ours.
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, TableError>;

/// Floats buffered before a row group is written (32 MB).
const GROUP_FLOATS: usize = 8 << 20;

/// Which columns a table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// A `layer` column (every hidden state).
    pub layered: bool,
    /// `frame` and `timestamp` columns (frames kept, not pooled).
    pub frames: bool,
}

impl Layout {
    fn schema(self) -> String {
        let mut fields = vec!["required binary file (STRING);"];
        if self.layered {
            fields.push("required int32 layer;");
        }
        if self.frames {
            fields.extend(["required int32 frame;", "required double timestamp;"]);
        }
        fields.push(
            "required group embedding (LIST) { repeated group list { required float element; } }",
        );
        format!("message embeddings {{ {} }}", fields.join(" "))
    }
}

/// Rows waiting for the next row group, column by column.
#[derive(Default)]
struct Rows {
    file: Vec<ByteArray>,
    layer: Vec<i32>,
    frame: Vec<i32>,
    timestamp: Vec<f64>,
    values: Vec<f32>,
    /// Repetition levels of `values`: 0 starts a row's list.
    rep: Vec<i16>,
}

/// A Parquet file of embeddings being written.
pub struct EmbeddingTable {
    writer: SerializedFileWriter<File>,
    layout: Layout,
    dim: Option<usize>,
    rows: Rows,
}

impl EmbeddingTable {
    /// Start a table at `path` (the caller renames it into place when done).
    pub fn create(path: &Path, layout: Layout, model: &str) -> Result<EmbeddingTable> {
        let schema = Arc::new(parse_message_type(&layout.schema())?);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("earshot {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "earshot.model".into(),
                model.to_string(),
            )]))
            .build();
        let writer = SerializedFileWriter::new(File::create(path)?, schema, Arc::new(props))?;
        Ok(EmbeddingTable {
            writer,
            layout,
            dim: None,
            rows: Rows::default(),
        })
    }

    /// Add one input's rows: its frames (layer by layer), or its scene embedding(s) when the
    /// layout has no frames.
    pub fn push(&mut self, file: &str, e: &Embeddings) -> Result<()> {
        let (data, shape) = if self.layout.frames {
            (&e.frames, e.shape.clone())
        } else {
            (&e.scene, e.scene_shape())
        };
        let dim = *shape.last().unwrap_or(&0);
        if dim == 0 || shape.len() > 3 {
            return Err(TableError::Invalid(format!(
                "cannot tabulate an embedding of shape {shape:?}"
            )));
        }
        if *self.dim.get_or_insert(dim) != dim {
            return Err(TableError::Invalid(format!(
                "embedding size {dim} differs from the first file's {}",
                self.dim.unwrap_or(0)
            )));
        }
        let frames = if self.layout.frames {
            shape[shape.len() - 2]
        } else {
            1
        };
        let name = ByteArray::from(file);
        for (row, vector) in data.chunks_exact(dim).enumerate() {
            let (layer, frame) = (row / frames, row % frames);
            let r = &mut self.rows;
            r.file.push(name.clone());
            if self.layout.layered {
                r.layer.push(layer as i32);
            }
            if self.layout.frames {
                r.frame.push(frame as i32);
                r.timestamp
                    .push(e.timestamps.get(frame).copied().unwrap_or(f64::NAN));
            }
            r.values.extend_from_slice(vector);
            r.rep.push(0);
            r.rep.extend(std::iter::repeat_n(1, dim - 1));
        }
        if self.rows.values.len() >= GROUP_FLOATS {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the buffered rows as a row group.
    fn flush(&mut self) -> Result<()> {
        if self.rows.file.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let def = vec![1i16; rows.values.len()];
        let mut group = self.writer.next_row_group()?;
        while let Some(mut column) = group.next_column()? {
            match column.untyped() {
                ColumnWriter::ByteArrayColumnWriter(w) => {
                    w.write_batch(&rows.file, None, None)?;
                }
                ColumnWriter::Int32ColumnWriter(w) => {
                    // `layer` comes before `frame` in the schema.
                    let values = if self.layout.layered && w.get_descriptor().name() == "layer" {
                        &rows.layer
                    } else {
                        &rows.frame
                    };
                    w.write_batch(values, None, None)?;
                }
                ColumnWriter::DoubleColumnWriter(w) => {
                    w.write_batch(&rows.timestamp, None, None)?;
                }
                ColumnWriter::FloatColumnWriter(w) => {
                    w.write_batch(&rows.values, Some(&def), Some(&rows.rep))?;
                }
                _ => unreachable!("the schema has no other column types"),
            }
            column.close()?;
        }
        group.close()?;
        Ok(())
    }

    /// Write the last row group and the footer.
    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.writer.close()?;
        Ok(())
    }
}

/// Concatenate tables of the same columns (the shards of a run, in order) into `out`, row group
/// by row group.
pub fn concat(inputs: &[&Path], out: &Path) -> Result<()> {
    let open = |p: &Path| -> Result<SerializedFileReader<File>> {
        let file =
            File::open(p).map_err(|e| TableError::Invalid(format!("{}: {e}", p.display())))?;
        SerializedFileReader::new(file)
            .map_err(|e| TableError::Invalid(format!("{}: not a Parquet file ({e})", p.display())))
    };
    let readers = inputs.iter().map(|p| open(p)).collect::<Result<Vec<_>>>()?;
    let Some(first) = readers.first() else {
        return Err(TableError::Invalid("no tables to concatenate".into()));
    };
    let meta = first.metadata().file_metadata();
    let schema = meta.schema_descr().root_schema_ptr();
    for (r, p) in readers.iter().zip(inputs) {
        if r.metadata()
            .file_metadata()
            .schema_descr()
            .root_schema_ptr()
            != schema
        {
            return Err(TableError::Invalid(format!(
                "{}: columns differ from {}'s",
                p.display(),
                inputs[0].display()
            )));
        }
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(meta.created_by().unwrap_or("earshot").to_string())
        .set_key_value_metadata(meta.key_value_metadata().cloned())
        .build();
    let mut writer = SerializedFileWriter::new(File::create(out)?, schema, Arc::new(props))?;
    for reader in &readers {
        for g in 0..reader.num_row_groups() {
            let rg = reader.get_row_group(g)?;
            let rows = rg.metadata().num_rows() as usize;
            let mut group = writer.next_row_group()?;
            let mut c = 0;
            while let Some(mut column) = group.next_column()? {
                let col = rg.get_column_reader(c)?;
                copy_column(col, column.untyped(), rows)?;
                column.close()?;
                c += 1;
            }
            group.close()?;
        }
    }
    writer.close()?;
    Ok(())
}

/// A whole table read back: one entry per row in file order; `layer`, `frame` and `timestamp`
/// are empty when the table has no such column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableData {
    /// `file` of each row.
    pub files: Vec<String>,
    /// `layer` of each row.
    pub layers: Vec<i32>,
    /// `frame` of each row.
    pub frames: Vec<i32>,
    /// `timestamp` of each row.
    pub timestamps: Vec<f64>,
    /// Size of each embedding.
    pub dim: usize,
    /// The embeddings, row after row (`files.len() × dim`).
    pub values: Vec<f32>,
    /// The `earshot.model` metadata, when present.
    pub model: Option<String>,
}

/// Read a table earshot wrote (`earshot embed -o X.parquet`, or an embedding cache).
pub fn read(path: &Path) -> Result<TableData> {
    let file = File::open(path)?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| TableError::Invalid(format!("not a Parquet file ({e})")))?;
    let meta = reader.metadata().file_metadata();
    let mut data = TableData {
        model: (meta.key_value_metadata().into_iter().flatten())
            .find(|kv| kv.key == "earshot.model")
            .and_then(|kv| kv.value.clone()),
        ..TableData::default()
    };
    let schema = meta.schema_descr();
    let names: Vec<String> = (0..schema.num_columns())
        .map(|c| schema.column(c).path().parts()[0].clone())
        .collect();
    if !names.iter().any(|n| n == "file") || !names.iter().any(|n| n == "embedding") {
        return Err(TableError::Invalid(
            "not an embedding table (needs `file` and `embedding` columns)".into(),
        ));
    }
    for g in 0..reader.num_row_groups() {
        let rg = reader.get_row_group(g)?;
        let rows = rg.metadata().num_rows() as usize;
        for (c, name) in names.iter().enumerate() {
            let (mut def, mut rep) = (Vec::new(), Vec::new());
            macro_rules! read_all {
                ($r:expr, $values:expr) => {{
                    let mut left = rows;
                    while left > 0 {
                        let (n, _, _) =
                            $r.read_records(left, Some(&mut def), Some(&mut rep), $values)?;
                        if n == 0 {
                            return Err(TableError::Invalid("a column chunk ends early".into()));
                        }
                        left -= n;
                    }
                }};
            }
            match (name.as_str(), rg.get_column_reader(c)?) {
                ("file", ColumnReader::ByteArrayColumnReader(mut r)) => {
                    let mut v = Vec::new();
                    read_all!(r, &mut v);
                    for b in v {
                        let s = std::str::from_utf8(b.data())
                            .map_err(|_| TableError::Invalid("a file name is not UTF-8".into()))?;
                        data.files.push(s.to_string());
                    }
                }
                ("layer", ColumnReader::Int32ColumnReader(mut r)) => read_all!(r, &mut data.layers),
                ("frame", ColumnReader::Int32ColumnReader(mut r)) => read_all!(r, &mut data.frames),
                ("timestamp", ColumnReader::DoubleColumnReader(mut r)) => {
                    read_all!(r, &mut data.timestamps)
                }
                ("embedding", ColumnReader::FloatColumnReader(mut r)) => {
                    let before = data.values.len();
                    read_all!(r, &mut data.values);
                    let added = data.values.len() - before;
                    if let Some(dim) = added.checked_div(rows) {
                        if dim == 0 || dim * rows != added || (data.dim != 0 && data.dim != dim) {
                            return Err(TableError::Invalid(
                                "embeddings of different sizes in one table".into(),
                            ));
                        }
                        data.dim = dim;
                    }
                }
                (other, _) => {
                    return Err(TableError::Invalid(format!(
                        "column {other:?} is not one earshot writes"
                    )))
                }
            }
        }
    }
    Ok(data)
}

/// Copy `rows` records of one column chunk, levels included.
fn copy_column(reader: ColumnReader, writer: &mut ColumnWriter<'_>, rows: usize) -> Result<()> {
    macro_rules! copy {
        ($r:expr, $w:expr) => {{
            let (mut values, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
            let mut left = rows;
            while left > 0 {
                let (records, _, _) =
                    $r.read_records(left, Some(&mut def), Some(&mut rep), &mut values)?;
                if records == 0 {
                    return Err(TableError::Invalid("a column chunk ends early".into()));
                }
                left -= records;
            }
            let d = $w.get_descriptor();
            let def = (d.max_def_level() > 0).then_some(def.as_slice());
            let rep = (d.max_rep_level() > 0).then_some(rep.as_slice());
            $w.write_batch(&values, def, rep)?;
        }};
    }
    match (reader, writer) {
        (ColumnReader::ByteArrayColumnReader(mut r), ColumnWriter::ByteArrayColumnWriter(w)) => {
            copy!(r, w)
        }
        (ColumnReader::Int32ColumnReader(mut r), ColumnWriter::Int32ColumnWriter(w)) => {
            copy!(r, w)
        }
        (ColumnReader::DoubleColumnReader(mut r), ColumnWriter::DoubleColumnWriter(w)) => {
            copy!(r, w)
        }
        (ColumnReader::FloatColumnReader(mut r), ColumnWriter::FloatColumnWriter(w)) => {
            copy!(r, w)
        }
        _ => {
            return Err(TableError::Invalid(
                "a column of a type earshot does not write".into(),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::record::Field;

    /// 2 layers × 3 frames × 4 dims, values numbering their position.
    fn layered() -> Embeddings {
        let shape = vec![2, 3, 4];
        let frames: Vec<f32> = (0..24).map(|v| v as f32).collect();
        Embeddings {
            scene: Embeddings::mean_over_frames(&frames, &shape),
            frames,
            shape,
            timestamps: vec![0.5, 1.5, 2.5],
        }
    }

    /// Every row as its fields' display strings, the embedding as a list of floats.
    fn rows(path: &Path) -> Vec<Vec<String>> {
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                r.unwrap()
                    .get_column_iter()
                    .map(|(name, f)| match f {
                        Field::ListInternal(l) => format!("{name}={:?}", l.elements()),
                        other => format!("{name}={other}"),
                    })
                    .collect()
            })
            .collect()
    }

    fn write(path: &Path, layout: Layout, inputs: &[(&str, &Embeddings)]) {
        let mut t = EmbeddingTable::create(path, layout, "test").unwrap();
        for (name, e) in inputs {
            t.push(name, e).unwrap();
        }
        t.finish().unwrap();
    }

    #[test]
    fn layered_frames_and_pooled_scenes_become_rows() {
        let dir = tempfile::tempdir().unwrap();
        let e = layered();
        let frames = dir.path().join("frames.parquet");
        let layout = Layout {
            layered: true,
            frames: true,
        };
        write(&frames, layout, &[("a.wav", &e)]);
        let got = rows(&frames);
        assert_eq!(got.len(), 6);
        // Layer 1, frame 2: the last 4 values.
        assert_eq!(
            got[5][..4],
            ["file=\"a.wav\"", "layer=1", "frame=2", "timestamp=2.5"]
        );
        assert_eq!(
            got[5][4],
            "embedding=[Float(20.0), Float(21.0), Float(22.0), Float(23.0)]"
        );

        let scenes = dir.path().join("scenes.parquet");
        let layout = Layout {
            layered: true,
            frames: false,
        };
        write(&scenes, layout, &[("a.wav", &e), ("b.wav", &e)]);
        let got = rows(&scenes);
        assert_eq!(got.len(), 4);
        // Layer 0's mean over frames 0..3: (0+4+8)/3 = 4 for the first dim.
        assert_eq!(got[2][..2], ["file=\"b.wav\"", "layer=0"]);
        assert_eq!(
            got[2][2],
            "embedding=[Float(4.0), Float(5.0), Float(6.0), Float(7.0)]"
        );

        // Read back whole.
        let back = read(&frames).unwrap();
        assert_eq!(back.files, vec!["a.wav"; 6]);
        assert_eq!(back.layers, [0, 0, 0, 1, 1, 1]);
        assert_eq!(back.frames, [0, 1, 2, 0, 1, 2]);
        assert_eq!(back.timestamps[5], 2.5);
        assert_eq!((back.dim, back.values), (4, e.frames.clone()));
        assert_eq!(back.model.as_deref(), Some("test"));
        let back = read(&scenes).unwrap();
        assert!(back.frames.is_empty() && back.timestamps.is_empty());
        assert_eq!(back.files, ["a.wav", "a.wav", "b.wav", "b.wav"]);
        assert_eq!(&back.values[8..12], [4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn concat_keeps_order_and_refuses_other_columns() {
        let dir = tempfile::tempdir().unwrap();
        let e = layered();
        let layout = Layout {
            layered: true,
            frames: true,
        };
        let (a, b, all) = (
            dir.path().join("a.parquet"),
            dir.path().join("b.parquet"),
            dir.path().join("all.parquet"),
        );
        write(&a, layout, &[("a.wav", &e)]);
        write(&b, layout, &[("b.wav", &e), ("c.wav", &e)]);
        write(&all, layout, &[("a.wav", &e), ("b.wav", &e), ("c.wav", &e)]);
        let merged = dir.path().join("merged.parquet");
        concat(&[&a, &b], &merged).unwrap();
        assert_eq!(rows(&merged), rows(&all));

        let other = dir.path().join("other.parquet");
        let pooled = Layout {
            layered: false,
            frames: false,
        };
        write(&other, pooled, &[("a.wav", &e)]);
        let err = concat(&[&a, &other], &merged).unwrap_err().to_string();
        assert!(err.contains("columns differ"), "{err}");
        let junk = dir.path().join("junk.parquet");
        std::fs::write(&junk, b"not parquet").unwrap();
        let err = concat(&[&a, &junk], &merged).unwrap_err().to_string();
        assert!(err.contains("junk.parquet: not a Parquet file"), "{err}");
    }

    #[test]
    fn a_different_embedding_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let layout = Layout {
            layered: false,
            frames: true,
        };
        let mut t = EmbeddingTable::create(&path, layout, "test").unwrap();
        let e = Embeddings {
            frames: vec![0.0; 6],
            shape: vec![2, 3],
            timestamps: vec![0.0, 1.0],
            scene: vec![0.0; 3],
        };
        t.push("a.wav", &e).unwrap();
        let wide = Embeddings {
            frames: vec![0.0; 8],
            shape: vec![2, 4],
            timestamps: vec![0.0, 1.0],
            scene: vec![0.0; 4],
        };
        let err = t.push("b.wav", &wide).unwrap_err().to_string();
        assert!(
            err.contains("embedding size 4 differs from the first file's 3"),
            "{err}"
        );
    }
}
