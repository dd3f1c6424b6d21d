//! The evaluation page of `eval run` (`-o DIR` gets `report.html`): one self-contained HTML
//! file, no network, that shows a whole evaluation at a glance, as the DCASE result pages and
//! the PANNs paper's per-class figures do:
//! - what was run (dataset, split, model, clips evaluated and failed) and the headline metrics;
//! - figures drawn by the metric code itself (the PSD-ROC of PSDS1 and PSDS2 for DESED);
//! - per-class bars (F1 per class for SED, AP per class for tagging, accuracy per class for
//!   scenes), in class order up to [`SORT_ABOVE`] classes and best first above that (AudioSet's
//!   527);
//! - for scenes, the confusion matrix (rows the reference, columns the system), each cell shaded
//!   by its share of the row.
//!
//! Everything is drawn here as SVG and HTML; the page's only script catches errors and, opened
//! with `#selftest`, writes what the DOM holds (bars per chart, the confusion matrix's total) as
//! JSON into `<pre id="selftest">`, which tests/review.rs checks in headless Chromium.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

/// Charts with more classes than this show them best first instead of in class order.
pub const SORT_ABOVE: usize = 30;

/// One per-class bar chart.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// Title, e.g. "Event-based F1 per class".
    pub title: String,
    /// (class, value) pairs; NaN draws no bar and reads "n/a".
    pub bars: Vec<(String, f64)>,
}

/// A confusion matrix: `counts[reference][predicted]`.
#[derive(Debug, Clone)]
pub struct Confusion {
    /// Class names, rows and columns alike.
    pub labels: Vec<String>,
    /// Counts.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// Count (reference, predicted) label pairs over `labels`; pairs naming other labels are
    /// left out.
    pub fn of(labels: &[String], reference: &[&str], predicted: &[&str]) -> Confusion {
        let index = |l: &str| labels.iter().position(|c| c == l);
        let mut counts = vec![vec![0; labels.len()]; labels.len()];
        for (r, p) in reference.iter().zip(predicted) {
            if let (Some(i), Some(j)) = (index(r), index(p)) {
                counts[i][j] += 1;
            }
        }
        Confusion {
            labels: labels.to_vec(),
            counts,
        }
    }
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct EvalPage {
    /// The page's heading.
    pub title: String,
    /// What was run: (name, value) rows.
    pub facts: Vec<(String, String)>,
    /// The headline metrics: (name, value).
    pub metrics: Vec<(String, f64)>,
    /// Finished SVG documents with their captions.
    pub figures: Vec<(String, String)>,
    /// Per-class charts.
    pub charts: Vec<BarChart>,
    /// The confusion matrix, for scenes.
    pub confusion: Option<Confusion>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A metric as the eval tables print it (6 decimals), "n/a" for NaN.
fn value(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{v:.6}")
    }
}

/// One chart as SVG: a row per class, the bar's length the value on a 0–1 axis (values above
/// 1 stretch the axis).
fn bar_svg(chart: &BarChart) -> String {
    let mut bars = chart.bars.clone();
    if bars.len() > SORT_ABOVE {
        bars.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        // NaN sorts above everything in total_cmp: put it last.
        bars.sort_by_key(|b| b.1.is_nan());
    }
    let (label_w, bar_w, row, top) = (240.0, 420.0, 18.0, 28.0);
    let max = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let height = top + row * bars.len() as f64 + 8.0;
    let width = label_w + bar_w + 90.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-n=\"{n}\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        n = bars.len()
    );
    for k in 0..=4 {
        let t = max * f64::from(k) / 4.0;
        let x = label_w + bar_w * t / max;
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"#555\">{t:.2}</text>",
            y0 = top - 4.0,
            y1 = height - 8.0,
            ty = top - 10.0,
        );
    }
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            s,
            "<g class=\"bar\" data-label=\"{l}\" data-value=\"{v}\"><title>{l}: {text}</title>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>",
            l = escape(label),
            tx = label_w - 8.0,
            ty = y + 13.0,
            text = value(*v),
        );
        if v.is_finite() {
            let _ = write!(
                s,
                "<rect x=\"{label_w}\" y=\"{ry:.1}\" width=\"{w:.2}\" height=\"{h}\" fill=\"#1f77b4\"/>",
                ry = y + 3.0,
                w = bar_w * v.max(0.0) / max,
                h = row - 5.0,
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{ty:.1}\" fill=\"#333\">{text}</text></g>",
            x = label_w + bar_w * if v.is_nan() { 0.0 } else { v.clamp(0.0, max) } / max + 6.0,
            ty = y + 13.0,
            text = if v.is_nan() {
                "n/a".to_string()
            } else {
                format!("{v:.3}")
            },
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The confusion matrix as a table, each cell shaded by its share of the reference row.
fn confusion_table(c: &Confusion) -> String {
    let mut s = String::from(
        "<table class=\"confusion\"><thead><tr><th class=\"corner\">reference ↓ / system →</th>",
    );
    for l in &c.labels {
        let _ = write!(s, "<th class=\"col\"><span>{}</span></th>", escape(l));
    }
    s.push_str("<th>N</th><th>accuracy</th></tr></thead><tbody>\n");
    for (i, row) in c.counts.iter().enumerate() {
        let n: usize = row.iter().sum();
        let _ = write!(s, "<tr><th>{}</th>", escape(&c.labels[i]));
        for (j, &k) in row.iter().enumerate() {
            let share = if n == 0 { 0.0 } else { k as f64 / n as f64 };
            let (bg, fg) = if i == j {
                (format!("rgba(44,160,44,{share:.3})"), "#000")
            } else {
                (format!("rgba(214,39,40,{share:.3})"), "#000")
            };
            let _ = write!(
                s,
                "<td data-count=\"{k}\" style=\"background:{bg};color:{fg}\" title=\"{} as {}: {k}\">{}</td>",
                escape(&c.labels[i]),
                escape(&c.labels[j]),
                if k == 0 { String::new() } else { k.to_string() }
            );
        }
        let acc = if n == 0 {
            f64::NAN
        } else {
            row[i] as f64 / n as f64
        };
        let _ = writeln!(
            s,
            "<td class=\"n\">{n}</td><td class=\"n\">{}</td></tr>",
            value(acc)
        );
    }
    s.push_str("</tbody></table>\n");
    s
}

/// The page as HTML.
pub fn html(page: &EvalPage) -> String {
    let mut body = String::new();
    let _ = writeln!(body, "<h1>{}</h1>", escape(&page.title));
    body.push_str("<table class=\"facts\">");
    for (k, v) in &page.facts {
        let _ = write!(
            body,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    body.push_str("</table>\n<h2>Metrics</h2>\n<table class=\"metrics\">");
    for (k, v) in &page.metrics {
        let _ = write!(
            body,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            value(*v)
        );
    }
    body.push_str("</table>\n");
    for (caption, svg) in &page.figures {
        let _ = writeln!(
            body,
            "<figure class=\"plot\">{svg}<figcaption>{}</figcaption></figure>",
            escape(caption)
        );
    }
    if let Some(c) = &page.confusion {
        let _ = writeln!(body, "<h2>Confusion matrix</h2>\n{}", confusion_table(c));
    }
    for chart in &page.charts {
        let _ = writeln!(
            body,
            "<section class=\"chart\"><h2>{}</h2>\n{}</section>",
            escape(&chart.title),
            bar_svg(chart)
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>{STYLE}</style></head>\n<body>\n{body}<script>{SCRIPT}</script>\n</body></html>\n",
        title = escape(&page.title),
    )
}

/// Write the page atomically.
pub fn write(path: &Path, page: &EvalPage) -> Result<()> {
    crate::output::atomically(path, |tmp| std::fs::write(tmp, html(page).as_bytes()))
}

const STYLE: &str = r#"
body { font: 14px system-ui, sans-serif; margin: 16px 24px 48px; color: #222; max-width: 1200px; }
h1 { font-size: 19px; margin: 4px 0 10px; }
h2 { font-size: 15px; margin: 24px 0 6px; }
table.facts th, table.metrics th { text-align: left; font-weight: normal; color: #555; padding: 1px 16px 1px 0; }
table.metrics td { font-variant-numeric: tabular-nums; font-weight: 600; }
figure.plot { margin: 16px 0; }
figcaption { color: #555; font-size: 12px; }
table.confusion { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.confusion td, table.confusion th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; font-size: 12px; }
table.confusion tbody th { text-align: right; font-weight: normal; white-space: nowrap; }
table.confusion th.col { vertical-align: bottom; height: 120px; }
table.confusion th.col span { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; white-space: nowrap; }
table.confusion td { min-width: 22px; }
table.confusion td.n { color: #555; }
"#;

const SCRIPT: &str = r##"
"use strict";
const errors = [];
window.addEventListener("error", e => errors.push(String(e.message || e)));
function selftest() {
  const charts = [...document.querySelectorAll("svg.chart")].map(c => ({
    title: c.closest("section").querySelector("h2").textContent,
    expected: parseInt(c.dataset.n, 10),
    bars: c.querySelectorAll("g.bar").length,
    drawn: c.querySelectorAll("g.bar rect").length,
  }));
  const cells = [...document.querySelectorAll("table.confusion td[data-count]")];
  const out = {
    errors,
    charts,
    figures: document.querySelectorAll("figure.plot svg").length,
    metrics: document.querySelectorAll("table.metrics tr").length,
  };
  if (cells.length) {
    out.confusion = {cells: cells.length, total: cells.reduce((s, c) => s + parseInt(c.dataset.count, 10), 0)};
  }
  const pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}
if (location.hash === "#selftest") selftest();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_counts_pairs_and_the_page_escapes() {
        let labels: Vec<String> = ["a<b", "c"].iter().map(|s| s.to_string()).collect();
        let c = Confusion::of(&labels, &["a<b", "a<b", "c", "x"], &["a<b", "c", "c", "c"]);
        assert_eq!(c.counts, vec![vec![1, 1], vec![0, 1]]);
        let page = EvalPage {
            title: "t".into(),
            charts: vec![BarChart {
                title: "F1".into(),
                bars: vec![("a<b".into(), 0.5), ("c".into(), f64::NAN)],
            }],
            confusion: Some(c),
            ..Default::default()
        };
        let html = html(&page);
        assert!(html.contains("a&lt;b") && !html.contains("a<b"));
        assert_eq!(html.matches("<g class=\"bar\"").count(), 2);
        assert_eq!(html.matches("<rect x=").count(), 1, "no bar for NaN");
        assert!(html.contains(">n/a</text>"));
    }

    #[test]
    fn long_charts_show_the_best_first() {
        let bars: Vec<(String, f64)> = (0..=SORT_ABOVE)
            .map(|i| (format!("c{i:02}"), i as f64 / 100.0))
            .chain([("nan".to_string(), f64::NAN)])
            .collect();
        let svg = bar_svg(&BarChart {
            title: "AP".into(),
            bars,
        });
        let first = svg.find("data-label=\"c30\"").unwrap();
        let second = svg.find("data-label=\"c29\"").unwrap();
        let nan = svg.find("data-label=\"nan\"").unwrap();
        assert!(first < second && second < nan);
    }
}
