//! `detect --plot`: a PNG a person can read at a glance — the log-mel spectrogram on top, then
//! one strip per top class with its framewise probability curve, the threshold and the detected
//! events shaded — drawn into an RGB buffer (8×8 bitmap font for the labels) and written with
//! the `png` crate.

use std::path::Path;

use anyhow::Result;
use font8x8::UnicodeFonts;

use earshot_core::labels::Labels;
use earshot_core::outputs::{top_k, ClipOutput, Event};

const STRIP_H: usize = 56;
const MEL_SCALE: usize = 3;
const TITLE_H: usize = 14;
const TOP_CLASSES: usize = 5;
const MAX_WIDTH: usize = 1600;

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

/// Draw and write the detection plot.
pub fn detection_png(
    path: &Path,
    mel: &[f32],
    bins: usize,
    out: &ClipOutput,
    events: &[Event],
    labels: &Labels,
) -> Result<()> {
    let frames = out.frames().max(mel.len() / bins.max(1));
    // One pixel per frame, or fewer frames per pixel for long clips.
    let per_px = frames.div_ceil(MAX_WIDTH).max(1);
    let width = frames.div_ceil(per_px).max(64);
    let mel_h = bins * MEL_SCALE;
    let top: Vec<(usize, f32)> = top_k(&out.clipwise, TOP_CLASSES);
    let height = TITLE_H + mel_h + top.len() * STRIP_H + 4;
    let mut c = Canvas::new(width, height);

    c.text(
        2,
        3,
        &format!(
            "{:.2} s   top classes by clip score; events shaded",
            out.duration
        ),
        [0, 0, 0],
    );

    draw_mel(&mut c, TITLE_H, mel, bins, per_px, MEL_SCALE);

    // Probability strips.
    let framewise = out.framewise.as_deref().unwrap_or_default();
    let classes = out.classes();
    let palette = [
        [31, 119, 180],
        [214, 39, 40],
        [44, 160, 44],
        [148, 103, 189],
        [255, 127, 14],
    ];
    for (row, &(class, score)) in top.iter().enumerate() {
        let y0 = TITLE_H + mel_h + row * STRIP_H;
        let color = palette[row % palette.len()];
        c.fill(0, y0, width, y0 + 1, [200, 200, 200]);
        let shade = [color[0] / 4 + 190, color[1] / 4 + 190, color[2] / 4 + 190];
        for e in events.iter().filter(|e| e.class == class) {
            let x0 = (e.onset / out.frame_hop) as usize / per_px;
            let x1 = ((e.offset / out.frame_hop) as usize).div_ceil(per_px);
            c.fill(x0, y0 + 1, x1.max(x0 + 1), y0 + STRIP_H, shade);
        }
        let y_of =
            |p: f32| y0 + STRIP_H - 2 - ((p.clamp(0.0, 1.0) * (STRIP_H - 4) as f32) as usize);
        let mut prev: Option<(usize, usize)> = None;
        for px in 0..width {
            let t0 = px * per_px;
            if t0 >= out.frames() {
                break;
            }
            let p = (t0..(t0 + per_px).min(out.frames()))
                .map(|t| framewise[t * classes + class])
                .fold(0.0, f32::max);
            let pt = (px, y_of(p));
            if let Some(q) = prev {
                c.line(q.0, q.1, pt.0, pt.1, color);
            }
            prev = Some(pt);
        }
        let name = labels.get(class).map_or("?", |l| l.name.as_str());
        c.text(4, y0 + 4, &format!("{name} ({score:.2})"), [0, 0, 0]);
    }

    c.write_png(path)
}

/// The spectrogram, low frequencies at the bottom, dB scaled to the clip's own range (80 dB
/// below its peak at most): `per_px` frames per pixel column, `scale` pixel rows per bin, from
/// row `y0` down.
fn draw_mel(c: &mut Canvas, y0: usize, mel: &[f32], bins: usize, per_px: usize, scale: usize) {
    let (lo, hi) = mel
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let lo = lo.max(hi - 80.0);
    let mel_frames = mel.len() / bins.max(1);
    for px in 0..c.width {
        let t0 = px * per_px;
        if t0 >= mel_frames {
            break;
        }
        for b in 0..bins {
            let v = (t0..(t0 + per_px).min(mel_frames))
                .map(|t| mel[t * bins + b])
                .fold(f32::NEG_INFINITY, f32::max);
            let color = colormap((v - lo) / (hi - lo).max(1e-6));
            let y = y0 + (bins - 1 - b) * scale;
            c.fill(px, y, px + 1, y + scale, color);
        }
    }
}

/// A log-mel spectrogram alone as PNG bytes, one pixel column per frame (fewer frames per
/// column past `max_width`), `scale` pixel rows per bin.
pub fn mel_png(mel: &[f32], bins: usize, max_width: usize, scale: usize) -> Result<Vec<u8>> {
    let frames = mel.len() / bins.max(1);
    let per_px = frames.div_ceil(max_width.max(1)).max(1);
    let mut c = Canvas::new(frames.div_ceil(per_px).max(1), (bins * scale).max(1));
    draw_mel(&mut c, 0, mel, bins, per_px, scale);
    c.png()
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
