//! Minimal `.npy` (NumPy format 1.0/2.0/3.0) reading and writing for the arrays earshot exchanges
//! with the Python world: little-endian `f32`, `f64`, `i64` and friends in C order.
//!
//! NumPy's own writer (`numpy.lib.format`) pads the header so that the data starts on a 64-byte
//! boundary; we do the same so files round-trip byte for byte with `np.save`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// Errors from reading or writing `.npy` files.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened, read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not a `.npy` file or its header is malformed.
    #[error("not a valid .npy file: {0}")]
    Format(String),
    /// The file holds a dtype this reader does not convert.
    #[error("unsupported .npy dtype {0}")]
    Dtype(String),
}

/// `Result` with [`NpyError`].
pub type Result<T> = std::result::Result<T, NpyError>;

/// An array read from a `.npy` file, converted to `f64` for comparisons.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The shape, outermost axis first.
    pub shape: Vec<usize>,
    /// The values in C (row-major) order.
    pub data: Vec<f64>,
    /// The dtype descriptor as written in the file, e.g. `<f4`.
    pub descr: String,
}

/// Element types that can be written to `.npy`.
pub trait NpyElement: Copy {
    /// The NumPy dtype descriptor, e.g. `<f4`.
    const DESCR: &'static str;
    /// Append the little-endian bytes of `self`.
    fn write_le(self, out: &mut Vec<u8>);
}

macro_rules! npy_element {
    ($t:ty, $descr:expr) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
npy_element!(f32, "<f4");
npy_element!(f64, "<f8");
npy_element!(i64, "<i8");
npy_element!(i32, "<i4");

fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_str = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_str}, }}");
    // magic (6) + version (2) + header length (2) + dict + '\n' must be a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    dict.push_str(&" ".repeat(padding));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Encode `data` with `shape` as the bytes of a `.npy` file.
pub fn to_bytes<T: NpyElement>(data: &[T], shape: &[usize]) -> Vec<u8> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let mut out = header_bytes(T::DESCR, shape);
    out.reserve(std::mem::size_of_val(data));
    for &v in data {
        v.write_le(&mut out);
    }
    out
}

/// Write `data` with `shape` to `path` as a `.npy` file.
pub fn write<T: NpyElement>(path: &Path, data: &[T], shape: &[usize]) -> Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    w.write_all(&to_bytes(data, shape))?;
    w.flush()?;
    Ok(())
}

/// Write named arrays (each the bytes of a `.npy`, from [`to_bytes`]) to `path` as an
/// uncompressed `.npz`, the layout of `np.savez`: member `NAME.npy` per array.
pub fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) -> Result<()> {
    let mut zip = zip::ZipWriter::new(BufWriter::new(File::create(path)?));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(arrays.iter().map(|(_, b)| b.len()).sum::<usize>() >= u32::MAX as usize);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| NpyError::Format(e.to_string()))?;
        zip.write_all(bytes)?;
    }
    zip.finish()
        .map_err(|e| NpyError::Format(e.to_string()))?
        .flush()?;
    Ok(())
}

/// Read every member of an `.npz` (as [`write_npz`] or `np.savez` writes them), by name without
/// the `.npy` suffix.
pub fn read_npz(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    let mut zip =
        zip::ZipArchive::new(File::open(path)?).map_err(|e| NpyError::Format(e.to_string()))?;
    (0..zip.len())
        .map(|i| {
            let mut f = zip
                .by_index(i)
                .map_err(|e| NpyError::Format(e.to_string()))?;
            let name = f.name().trim_end_matches(".npy").to_string();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            Ok((name, from_bytes(&bytes)?))
        })
        .collect()
}

fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let pat = format!("'{key}':");
    let start = header
        .find(&pat)
        .ok_or_else(|| NpyError::Format(format!("header has no {key}")))?
        + pat.len();
    Ok(header[start..].trim_start())
}

/// Parse `.npy` bytes.
pub fn from_bytes(bytes: &[u8]) -> Result<NpyArray> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(NpyError::Format("bad magic".into()));
    }
    let (header_len, header_start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(NpyError::Format(format!("unknown version {v}"))),
    };
    let header_end = header_start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| NpyError::Format("header runs past the end".into()))?;
    let header = std::str::from_utf8(&bytes[header_start..header_end])
        .map_err(|_| NpyError::Format("header is not UTF-8".into()))?;

    let descr_field = dict_value(header, "descr")?;
    let descr = descr_field
        .trim_start_matches('\'')
        .split('\'')
        .next()
        .unwrap_or_default()
        .to_string();
    let fortran_order = dict_value(header, "fortran_order")?.starts_with("True");
    let shape_field = dict_value(header, "shape")?;
    let close = shape_field
        .find(')')
        .ok_or_else(|| NpyError::Format("shape is not a tuple".into()))?;
    let shape = shape_field[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| NpyError::Format(format!("bad shape entry {s:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| NpyError::Format("shape overflows".into()))?;

    let body = &bytes[header_end..];
    let (width, convert): (usize, fn(&[u8]) -> f64) = match descr.as_str() {
        "<f4" => (4, |b| f32::from_le_bytes(b.try_into().unwrap()) as f64),
        "<f8" => (8, |b| f64::from_le_bytes(b.try_into().unwrap())),
        "<i2" => (2, |b| i16::from_le_bytes(b.try_into().unwrap()) as f64),
        "<i4" => (4, |b| i32::from_le_bytes(b.try_into().unwrap()) as f64),
        "<i8" => (8, |b| i64::from_le_bytes(b.try_into().unwrap()) as f64),
        "|u1" => (1, |b| b[0] as f64),
        "|b1" => (1, |b| b[0] as f64),
        other => return Err(NpyError::Dtype(other.to_string())),
    };
    let needed = count
        .checked_mul(width)
        .ok_or_else(|| NpyError::Format("shape overflows".into()))?;
    if body.len() < needed {
        return Err(NpyError::Format(format!(
            "data holds {} bytes, shape needs {needed}",
            body.len()
        )));
    }
    let stored: Vec<f64> = body[..needed].chunks_exact(width).map(convert).collect();
    let data = if fortran_order && shape.len() > 1 {
        fortran_to_c(&stored, &shape)
    } else {
        stored
    };
    Ok(NpyArray { shape, data, descr })
}

/// Reorder column-major (Fortran) data into row-major order.
fn fortran_to_c(stored: &[f64], shape: &[usize]) -> Vec<f64> {
    // Fortran strides: the first axis varies fastest.
    let mut f_strides = vec![1usize; shape.len()];
    for axis in 1..shape.len() {
        f_strides[axis] = f_strides[axis - 1] * shape[axis - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(stored.len());
    for _ in 0..stored.len() {
        out.push(
            stored[index
                .iter()
                .zip(&f_strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()],
        );
        // Advance the C-order multi-index: the last axis varies fastest.
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// Read a `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_shape_values_and_alignment() {
        let data = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.5];
        let bytes = to_bytes(&data, &[2, 3]);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let back = from_bytes(&bytes).unwrap();
        assert_eq!(back.shape, vec![2, 3]);
        assert_eq!(back.descr, "<f4");
        assert_eq!(
            back.data,
            data.iter().map(|&v| v as f64).collect::<Vec<_>>()
        );
    }

    #[test]
    fn one_dimensional_shape_has_trailing_comma() {
        let bytes = to_bytes(&[1.0f64, 2.0], &[2]);
        let text = String::from_utf8_lossy(&bytes[10..]);
        assert!(text.contains("'shape': (2,)"), "{text}");
    }

    #[test]
    fn fortran_order_is_read_in_c_order() {
        // np.asfortranarray([[1, 2, 3], [4, 5, 6]]) stores 1 4 2 5 3 6.
        let mut bytes = to_bytes(&[1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0], &[2, 3]);
        let at = bytes.windows(5).position(|w| w == b"False").unwrap();
        bytes[at..at + 5].copy_from_slice(b"True ");
        let back = from_bytes(&bytes).unwrap();
        assert_eq!(back.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn truncated_body_is_an_error() {
        let mut bytes = to_bytes(&[1.0f32; 8], &[8]);
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(from_bytes(&bytes), Err(NpyError::Format(_))));
    }
}
