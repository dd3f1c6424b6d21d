//! The text layout of `dcase_util.ui.FancyStringifier` (dcase_util 0.2.20), which sed_eval's
//! `str(metrics)` reports are made of, so that earshot's `--format sed-eval` output can be
//! diffed line by line against what a sed_eval user knows.
//!
//! Traps reproduced: `data` lines keep the space before an absent unit (`"… : 2 "`); a value
//! of `None` prints as `None` and drops its unit; Python formats NaN as `nan`; a table cell
//! wider than its column is cut to `width − 5` characters plus `..` (after a `strN` type has
//! already cut it to `N − 2` plus `..`), and a `-` cell fills its column with dashes.

use std::fmt::Write as _;

/// A value as `FancyStringifier.formatted_value` sees it.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// A Python `str`.
    Str(&'a str),
    /// A Python `int`.
    Int(i64),
    /// A Python `float`.
    Float(f64),
    /// A Python `bool`.
    Bool(bool),
    /// `None`.
    None,
}

/// A data type name of `formatted_value` (`auto`, `int`, `float1_percentage`, `str15`, …).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// By the value's Python type (`float` → `float2`).
    Auto,
    /// `{:d}`.
    Int,
    /// `{:.Nf}`.
    Float(usize),
    /// `{:3.Nf}%`.
    Percentage(usize),
    /// `str(value)`, cut to `N − 2` characters plus `..` when longer than `N`.
    Str(Option<usize>),
}

/// Python's `'{:.Nf}'.format(v)`: `nan`, `inf`, `-inf` as Python writes them.
pub fn py_fixed(v: f64, precision: usize) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:.precision$}")
    }
}

/// `formatted_value(value, data_type)`.
pub fn formatted_value(value: Cell<'_>, kind: Kind) -> String {
    let kind = match (kind, value) {
        (Kind::Auto, Cell::Bool(_)) => return python_str(value),
        (Kind::Auto, Cell::Int(_)) => Kind::Int,
        (Kind::Auto, Cell::Float(_)) => Kind::Float(2),
        (Kind::Auto, _) => Kind::Str(None),
        (k, _) => k,
    };
    let number = match value {
        Cell::Int(i) => Some(i as f64),
        Cell::Float(f) => Some(f),
        Cell::Bool(b) => Some(f64::from(u8::from(b))),
        Cell::Str(s) => s.trim().parse::<f64>().ok(),
        Cell::None => None,
    };
    match (kind, number) {
        (Kind::Float(p), Some(v)) => py_fixed(v, p),
        (Kind::Percentage(p), Some(v)) => format!("{}%", py_fixed(v, p)),
        // is_int: int(value) works (not for NaN/inf, nor for a non-integer string).
        (Kind::Int, Some(v))
            if v.is_finite()
                && !matches!(value, Cell::Str(s) if s.trim().parse::<i64>().is_err()) =>
        {
            format!("{}", v.trunc() as i64)
        }
        (Kind::Str(width), _) => {
            let s = python_str(value);
            match width {
                Some(w) if s.chars().count() > w => cut(&s, w.saturating_sub(2)),
                _ => s,
            }
        }
        _ => python_str(value),
    }
}

/// `str(value)`.
fn python_str(value: Cell<'_>) -> String {
    match value {
        Cell::Str(s) => s.to_string(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => python_repr(f),
        Cell::Bool(b) => if b { "True" } else { "False" }.into(),
        Cell::None => "None".into(),
    }
}

/// Python's `repr(float)` for the values a report prints raw (integral or short).
fn python_repr(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn cut(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    out.push_str("..");
    out
}

/// `section_header(text, indent)`: the text over a rule of `=` to column 40.
pub fn section_header(text: &str, indent: usize) -> String {
    format!(
        "{pad}{text}\n{pad}{rule}",
        pad = " ".repeat(indent),
        rule = "=".repeat(40usize.saturating_sub(indent))
    )
}

/// `line(field, indent)`.
pub fn line(field: &str, indent: usize) -> String {
    field
        .split('\n')
        .map(|l| format!("{}{l}", " ".repeat(indent)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `data(field, value, unit, indent)`: `field : value unit`, the colon at column 35.
pub fn data(field: &str, value: Cell<'_>, unit: Option<&str>, indent: usize) -> String {
    let value = formatted_value(value, Kind::Auto);
    let unit = if value == "None" { None } else { unit };
    let width = 35usize.saturating_sub(indent);
    format!(
        "{}{field:<width$} : {value} {}",
        " ".repeat(indent),
        unit.unwrap_or("")
    )
}

/// A table in `FancyStringifier.row` calls: the column widths, types, separators and indent
/// persist from call to call, as they do on the Python object.
#[derive(Debug, Clone)]
pub struct Rows {
    widths: Vec<usize>,
    kinds: Vec<Kind>,
    separators: Vec<bool>,
    indent: usize,
}

impl Default for Rows {
    fn default() -> Self {
        Rows {
            widths: Vec::new(),
            kinds: Vec::new(),
            separators: Vec::new(),
            indent: 2,
        }
    }
}

impl Rows {
    /// `row(*headers, widths=…, separators=…, indent=…)`.
    pub fn header(
        &mut self,
        headers: &[&str],
        widths: &[usize],
        separators: &[bool],
        indent: usize,
    ) -> String {
        self.widths = widths.to_vec();
        self.separators = separators.to_vec();
        self.indent = indent;
        let cells: Vec<Cell> = headers.iter().map(|h| Cell::Str(h)).collect();
        self.row(&cells)
    }

    /// `row('-', '-', …)`: the separator line.
    pub fn rule(&mut self, n: usize) -> String {
        self.row(&vec![Cell::Str("-"); n])
    }

    /// `row(*values, types=…)`.
    pub fn typed(&mut self, values: &[Cell<'_>], kinds: &[Kind]) -> String {
        self.kinds = kinds.to_vec();
        self.row(values)
    }

    fn row(&self, values: &[Cell<'_>]) -> String {
        let mut s = " ".repeat(self.indent);
        for (i, &v) in values.iter().enumerate() {
            let width = self.widths.get(i).copied().unwrap_or(15).saturating_sub(3);
            let kind = self.kinds.get(i).copied().unwrap_or(Kind::Auto);
            if i > 0 {
                s.push(' ');
            }
            // A value formatted_value leaves as a non-string number (a NaN count) prints nothing.
            let text = formatted_value(v, kind);
            let text = if text == "-" {
                "-".repeat(width)
            } else if text.chars().count() > width {
                cut(&text, width.saturating_sub(2))
            } else {
                text
            };
            let _ = write!(s, "{text:<width$} ");
            s.push(if self.separators.get(i).copied().unwrap_or(false) {
                '|'
            } else {
                ' '
            });
        }
        s
    }
}
