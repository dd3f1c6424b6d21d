//! `detect --plot`: a PNG a person can read at a glance — the file name, the log-mel spectrogram
//! with time and frequency axes and a colour bar, then one strip per top class with its
//! framewise probability curve, the threshold and the detected events shaded — drawn into an
//! RGB buffer (8×8 bitmap font for the labels) and written with the `png` crate; also the
//! spectrogram image of the review page and `train`'s confusion matrix.

use std::path::Path;

use anyhow::Result;
use font8x8::UnicodeFonts;

use earshot_core::labels::Labels;
use earshot_core::outputs::{top_k, ClipOutput, Event, MelBand};

const STRIP_H: usize = 56;
const MEL_SCALE: usize = 3;
const TITLE_H: usize = 14;
const TOP_CLASSES: usize = 5;

struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            rgb: vec![255; width * height * 3],
        }
    }

    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    fn fill(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 3]) {
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                self.set(x, y, c);
            }
        }
    }

    fn text(&mut self, x: usize, y: usize, s: &str, c: [u8; 3]) {
        for (i, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.set(x + i * 8 + col, y + row, c);
                    }
                }
            }
        }
    }

    fn line(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 3]) {
        let steps = x1.abs_diff(x0).max(y1.abs_diff(y0)).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let x = x0 as f64 + (x1 as f64 - x0 as f64) * t;
            let y = y0 as f64 + (y1 as f64 - y0 as f64) * t;
            self.set(x.round() as usize, y.round() as usize, c);
        }
    }
}

/// A perceptually ordered dark-blue → yellow colour map (viridis-like control points).
fn colormap(v: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let v = v.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (v.floor() as usize).min(STOPS.len() - 2);
    let t = v - i as f32;
    let mix = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * t) as u8;
    [mix(0), mix(1), mix(2)]
}

/// Left margin (frequency labels) and plot width of the detection plot.
const LEFT: usize = 72;
const PLOT_W: usize = 1140;
/// Right margin: the colour bar and its labels.
const RIGHT: usize = 88;
/// Height of a time axis.
const AXIS_H: usize = 18;

/// The mel value of `f` Hz on the HTK or Slaney scale.
fn to_mel(f: f64, htk: bool) -> f64 {
    if htk {
        return 2595.0 * (1.0 + f / 700.0).log10();
    }
    let (fsp, min_log) = (200.0 / 3.0, 1000.0);
    if f < min_log {
        f / fsp
    } else {
        min_log / fsp + (f / min_log).ln() / (6.4f64.ln() / 27.0)
    }
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` ticks over `span`.
fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Seconds as a tick label.
fn seconds(t: f64) -> String {
    let s = format!("{t:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}s")
}

/// A time axis under a plot area of `duration` seconds from row `y`.
fn time_axis(c: &mut Canvas, y: usize, duration: f64) {
    c.fill(LEFT, y, LEFT + PLOT_W, y + 1, [60, 60, 60]);
    if duration <= 0.0 {
        return;
    }
    let step = nice_step(duration, 12.0);
    let mut t = 0.0;
    while t <= duration + 1e-9 {
        let x = LEFT + ((t / duration) * (PLOT_W - 1) as f64).round() as usize;
        c.fill(x, y, x + 1, y + 5, [60, 60, 60]);
        let label = seconds(t);
        c.text(x.saturating_sub(4 * label.len()), y + 8, &label, [0, 0, 0]);
        t += step;
    }
}

/// What the detection plot draws.
#[derive(Clone, Copy)]
pub struct DetectionPlot<'a> {
    /// The file name (or path) shown on top.
    pub title: &'a str,
    /// The model's log-mel, frames × bins.
    pub mel: &'a [f32],
    /// Mel bins.
    pub bins: usize,
    /// The log-mel's frequency range, when the model gives it.
    pub band: Option<MelBand>,
    /// The model's outputs.
    pub out: &'a ClipOutput,
    /// Detected events.
    pub events: &'a [Event],
    /// Class names.
    pub labels: &'a Labels,
    /// Per-class thresholds (or one for all).
    pub thresholds: &'a [f32],
}

/// Draw and write the detection plot: the file name and duration, the log-mel spectrogram with
/// time (s) and frequency (Hz, when the model gives its band) axes and a dB colour bar, then
/// one strip per top class with its framewise probability curve, the threshold-crossing events
/// shaded above its dashed threshold, and a time axis, 1300 px wide whatever the clip's length.
pub fn detection_png(path: &Path, plot: &DetectionPlot) -> Result<()> {
    let DetectionPlot {
        title,
        mel,
        bins,
        band,
        out,
        events,
        labels,
        thresholds,
    } = *plot;
    let mel_h = bins * MEL_SCALE;
    let top: Vec<(usize, f32)> = top_k(&out.clipwise, TOP_CLASSES);
    let head = TITLE_H + 6;
    let strips_y = head + mel_h + AXIS_H + 8;
    let height = strips_y + top.len() * STRIP_H + AXIS_H + 6;
    let mut c = Canvas::new(LEFT + PLOT_W + RIGHT, height);
    c.text(
        4,
        4,
        &format!(
            "{title}   {:.2} s   top classes by clip score, events shaded",
            out.duration
        ),
        [0, 0, 0],
    );

    let (lo, hi) = draw_mel(&mut c, LEFT, head, PLOT_W, mel, bins, MEL_SCALE);
    time_axis(&mut c, head + mel_h, out.duration);
    if let Some(b) = band {
        let (m0, m1) = (to_mel(b.low, b.htk), to_mel(b.high, b.htk));
        for f in [
            50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0,
        ] {
            if f < b.low || f > b.high {
                continue;
            }
            let y = head + mel_h - ((to_mel(f, b.htk) - m0) / (m1 - m0) * mel_h as f64) as usize;
            c.fill(LEFT - 5, y, LEFT, y + 1, [60, 60, 60]);
            let label = if f >= 1000.0 {
                format!("{}kHz", f / 1000.0)
            } else {
                format!("{f}Hz")
            };
            c.text(
                LEFT - 8 - 8 * label.len(),
                y.saturating_sub(4),
                &label,
                [0, 0, 0],
            );
        }
    }
    // Colour bar: the spectrogram's range.
    let bar_x = LEFT + PLOT_W + 10;
    for y in 0..mel_h {
        let v = 1.0 - y as f32 / (mel_h - 1).max(1) as f32;
        c.fill(bar_x, head + y, bar_x + 12, head + y + 1, colormap(v));
    }
    c.text(bar_x + 16, head, &format!("{hi:.0}"), [0, 0, 0]);
    c.text(bar_x + 16, head + mel_h - 8, &format!("{lo:.0}"), [0, 0, 0]);
    // The model's own log scale (dB for PANNs, natural log for YAMNet).
    c.text(bar_x + 16, head + mel_h / 2 - 4, "log", [0, 0, 0]);

    // Probability strips.
    let framewise = out.framewise.as_deref().unwrap_or_default();
    let (classes, frames) = (out.classes(), out.frames());
    let x_of = |t: f64| LEFT + ((t / out.duration.max(1e-9)) * PLOT_W as f64) as usize;
    let palette = [
        [31, 119, 180],
        [214, 39, 40],
        [44, 160, 44],
        [148, 103, 189],
        [255, 127, 14],
    ];
    for (row, &(class, score)) in top.iter().enumerate() {
        let y0 = strips_y + row * STRIP_H;
        let color = palette[row % palette.len()];
        c.fill(LEFT, y0, LEFT + PLOT_W, y0 + 1, [200, 200, 200]);
        let shade = [color[0] / 4 + 190, color[1] / 4 + 190, color[2] / 4 + 190];
        for e in events.iter().filter(|e| e.class == class) {
            let (x0, x1) = (x_of(e.onset), x_of(e.offset).min(LEFT + PLOT_W));
            c.fill(x0, y0 + 1, x1.max(x0 + 1), y0 + STRIP_H, shade);
        }
        let y_of =
            |p: f32| y0 + STRIP_H - 2 - ((p.clamp(0.0, 1.0) * (STRIP_H - 4) as f32) as usize);
        let th = thresholds.get(class).or(thresholds.first()).copied();
        if let Some(ty) = th.map(y_of) {
            for x in (LEFT..LEFT + PLOT_W).step_by(6) {
                c.fill(x, ty, x + 3, ty + 1, [90, 90, 90]);
            }
        }
        let mut prev: Option<(usize, usize)> = None;
        for t in 0..frames {
            let pt = (
                x_of((t as f64 + 0.5) * out.frame_hop).min(LEFT + PLOT_W - 1),
                y_of(framewise[t * classes + class]),
            );
            if let Some(q) = prev {
                c.line(q.0, q.1, pt.0, pt.1, color);
            }
            prev = Some(pt);
        }
        let name = labels.get(class).map_or("?", |l| l.name.as_str());
        c.text(LEFT + 4, y0 + 4, &format!("{name} ({score:.2})"), [0, 0, 0]);
    }
    time_axis(&mut c, strips_y + top.len() * STRIP_H, out.duration);
    c.write_png(path)
}

/// The spectrogram on a 0–1 scale in `w` columns (`[column * bins + bin]`), each column the
/// loudest of its frames; dB scaled to the clip's own range (80 dB below its peak at most), which
/// it returns.
fn mel_levels(mel: &[f32], bins: usize, w: usize) -> (Vec<f32>, f32, f32) {
    let (lo, hi) = mel
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let lo = lo.max(hi - 80.0);
    let frames = mel.len() / bins.max(1);
    let mut levels = Vec::with_capacity(w * bins);
    for px in 0..w {
        let t0 = px * frames / w.max(1);
        let t1 = ((px + 1) * frames / w.max(1)).max(t0 + 1).min(frames);
        if t0 >= frames {
            break;
        }
        levels.extend((0..bins).map(|b| {
            let v = (t0..t1)
                .map(|t| mel[t * bins + b])
                .fold(f32::NEG_INFINITY, f32::max);
            (v - lo) / (hi - lo).max(1e-6)
        }));
    }
    (levels, lo, hi)
}

/// The spectrogram in `w` columns from (`x0`, `y0`), low frequencies at the bottom, `scale`
/// rows per bin (see [`mel_levels`]); returns its dB range.
fn draw_mel(
    c: &mut Canvas,
    x0: usize,
    y0: usize,
    w: usize,
    mel: &[f32],
    bins: usize,
    scale: usize,
) -> (f32, f32) {
    let (levels, lo, hi) = mel_levels(mel, bins, w);
    for (px, column) in levels.chunks(bins.max(1)).enumerate() {
        for (b, &v) in column.iter().enumerate() {
            let y = y0 + (bins - 1 - b) * scale;
            c.fill(x0 + px, y, x0 + px + 1, y + scale, colormap(v));
        }
    }
    (lo, hi)
}

/// A log-mel spectrogram alone as PNG bytes, one pixel column per frame (the loudest of several
/// frames per column past `max_width`), `scale` pixel rows per bin. The image is indexed: 256
/// levels of the colour map, a byte a pixel, which keeps the review page light (about a third
/// of an RGB image's size).
pub fn mel_png(mel: &[f32], bins: usize, max_width: usize, scale: usize) -> Result<Vec<u8>> {
    let frames = mel.len() / bins.max(1);
    let w = frames.min(max_width).max(1);
    let h = (bins * scale).max(1);
    let (levels, _, _) = mel_levels(mel, bins, w);
    let mut index = vec![0u8; w * h];
    for (px, column) in levels.chunks(bins.max(1)).enumerate() {
        for (b, &v) in column.iter().enumerate() {
            let level = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            for row in (bins - 1 - b) * scale..(bins - b) * scale {
                index[row * w + px] = level;
            }
        }
    }
    let palette: Vec<u8> = (0..=255u8)
        .flat_map(|i| colormap(f32::from(i) / 255.0))
        .collect();
    let mut bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(palette);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&index)?;
    writer.finish()?;
    Ok(bytes)
}

impl Canvas {
    fn write_png(&self, path: &Path) -> Result<()> {
        let bytes = self.png()?;
        super::output::atomically(path, |tmp| std::fs::write(tmp, &bytes))
    }

    fn png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut enc = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.rgb)?;
        writer.finish()?;
        Ok(bytes)
    }
}

/// A confusion matrix as a PNG: rows the true class, columns the predicted one, each cell
/// shaded by its share of the row and labelled with its count.
pub fn confusion_png(path: &Path, labels: &[String], matrix: &[Vec<usize>]) -> Result<()> {
    const CELL: usize = 36;
    let k = labels.len();
    let name_w = 8 * labels
        .iter()
        .map(|l| l.chars().count().min(24))
        .max()
        .unwrap_or(1)
        + 8;
    let (x0, y0) = (name_w, TITLE_H + 12);
    let width = (x0 + k * CELL + 8).max(8 * 40);
    let height = y0 + k * CELL + 12 + 10 * k.min(40) + 8;
    let mut c = Canvas::new(width, height);
    c.text(
        2,
        3,
        "confusion (rows: true, columns: predicted)",
        [0, 0, 0],
    );
    for (i, row) in matrix.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f32;
        let short: String = labels[i].chars().take(24).collect();
        c.text(2, y0 + i * CELL + CELL / 2 - 4, &short, [0, 0, 0]);
        for (j, &n) in row.iter().enumerate() {
            let share = n as f32 / total;
            let v = (255.0 * (1.0 - 0.8 * share)) as u8;
            let (x, y) = (x0 + j * CELL, y0 + i * CELL);
            c.fill(x, y, x + CELL - 1, y + CELL - 1, [v, v, 255]);
            let text = n.to_string();
            let ink = if share > 0.6 {
                [255, 255, 255]
            } else {
                [0, 0, 0]
            };
            c.text(
                x + (CELL - 8 * text.len()) / 2,
                y + CELL / 2 - 4,
                &text,
                ink,
            );
        }
    }
    // Column legend: column j is class j.
    let legend_y = y0 + k * CELL + 12;
    for (j, l) in labels.iter().enumerate().take(40) {
        let short: String = l.chars().take(36).collect();
        c.text(
            2,
            legend_y + 10 * j,
            &format!("col {}: {short}", j + 1),
            [60, 60, 60],
        );
    }
    for j in 0..k {
        let text = (j + 1).to_string();
        c.text(
            x0 + j * CELL + (CELL - 8 * text.len()) / 2,
            TITLE_H,
            &text,
            [60, 60, 60],
        );
    }
    c.write_png(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 frames × 2 bins: the loud bin is the top row's, low frequencies at the bottom.
    #[test]
    fn the_indexed_spectrogram_keeps_levels_and_orientation() {
        let mel = [-80.0, 0.0, -80.0, -40.0, -80.0, 0.0];
        let bytes = mel_png(&mel, 2, 1140, 2).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (3, 4));
        assert_eq!(info.color_type, png::ColorType::Indexed);
        assert_eq!(info.palette.as_ref().unwrap().len(), 256 * 3);
        let mut index = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut index).unwrap();
        // Rows 0-1 are bin 1 (high), rows 2-3 bin 0 (low, always -80 dB: level 0).
        assert_eq!(&index[..3], &[255, 128, 255]);
        assert_eq!(&index[3..6], &index[..3], "each bin fills `scale` rows");
        assert_eq!(&index[6..], &[0; 6]);
    }
}
