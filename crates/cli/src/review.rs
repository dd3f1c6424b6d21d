//! The detection review page (`earshot report`, `detect --report`): one self-contained HTML file,
//! no network. Per audio file it shows the model's log-mel spectrogram with time (s) and
//! frequency (Hz) axes, an event roll in sed_vis's manner (one lane per detected class), the top
//! classes' framewise scores with their thresholds, and an audio player whose playhead moves over
//! the spectrogram; clicking an event plays it. A file list at the top gives event counts and
//! filters by class.
//!
//! Everything is inlined: the spectrogram as a PNG, the audio as Ogg Vorbis at the model's rate
//! (`earshot_core::audio::encode`; a 16 kHz 16-bit WAV with `--embed-audio wav`, or linked by
//! relative path with `--link-audio`, for large batches), the data as JSON, the script and the
//! style. Opened with `#selftest`, the page checks itself (events in the DOM, a click seeking the
//! player, errors seen) and writes the result as JSON into `<pre id="selftest">`; the tests run
//! that in headless Chromium.

use std::path::Path;

use base64::Engine as _;
use serde::Serialize;

use earshot_core::outputs::MelBand;

/// Where a file's audio comes from.
pub enum Audio {
    /// A file's bytes, embedded as a data URI of this MIME type (`audio/ogg`, `audio/wav`).
    Embedded {
        /// The MIME type.
        mime: &'static str,
        /// The file's bytes.
        bytes: Vec<u8>,
    },
    /// A path or URL relative to the page.
    Linked(String),
}

/// One event on the page.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewEvent {
    /// Start, seconds.
    pub onset: f64,
    /// End, seconds.
    pub offset: f64,
    /// Class name.
    pub label: String,
    /// Peak score inside the event.
    pub score: f32,
}

/// A class's framewise score curve.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// Class name.
    pub label: String,
    /// One score per frame.
    pub scores: Vec<f32>,
    /// The detection threshold of the class.
    pub threshold: f32,
}

/// One audio file on the page.
pub struct ReviewFile {
    /// The path as shown.
    pub name: String,
    /// Seconds.
    pub duration: f64,
    /// Seconds between score frames.
    pub frame_hop: f64,
    /// The spectrogram image.
    pub mel_png: Vec<u8>,
    /// Its frequency range, when the model says.
    pub mel_band: Option<MelBand>,
    /// The top classes' curves.
    pub curves: Vec<Curve>,
    /// Detected events.
    pub events: Vec<ReviewEvent>,
    /// The audio.
    pub audio: Audio,
}

#[derive(Serialize)]
struct FileData<'a> {
    name: &'a str,
    duration: f64,
    hop: f64,
    band: Option<MelBand>,
    curves: &'a [Curve],
    events: &'a [ReviewEvent],
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `files`, detected by `model`.
pub fn page(model: &str, files: &[ReviewFile]) -> anyhow::Result<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sections = String::new();
    for (i, f) in files.iter().enumerate() {
        let data = FileData {
            name: &f.name,
            duration: f.duration,
            hop: f.frame_hop,
            band: f.mel_band,
            curves: &f.curves,
            events: &f.events,
        };
        // `</` cannot end the script element early once escaped.
        let json = serde_json::to_string(&data)?.replace("</", "<\\/");
        let audio = match &f.audio {
            Audio::Embedded { mime, bytes } => format!("data:{mime};base64,{}", b64.encode(bytes)),
            Audio::Linked(p) => escape(p),
        };
        sections.push_str(&format!(
            "<section class=\"file\" id=\"f{i}\">\n<h2>{name}</h2>\n\
             <script type=\"application/json\" class=\"data\">{json}</script>\n\
             <div class=\"spec\"><img alt=\"log-mel spectrogram\" src=\"data:image/png;base64,{png}\">\
             <svg class=\"axes\"></svg><div class=\"playhead\"></div></div>\n\
             <div class=\"roll\"></div>\n<svg class=\"curves\"></svg>\n\
             <audio controls preload=\"auto\" src=\"{audio}\"></audio>\n</section>\n",
            name = escape(&f.name),
            png = b64.encode(&f.mel_png),
        ));
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <title>earshot detections: {model}</title>\n<style>{STYLE}</style></head>\n<body>\n\
         <header><h1>Detections by {model}</h1>\n<label>Class <select id=\"filter\">\
         <option value=\"\">all classes</option></select></label>\n\
         <table id=\"files\"><thead><tr><th>file</th><th>events</th><th>classes</th></tr></thead>\
         <tbody></tbody></table></header>\n<main>\n{sections}</main>\n<script>{SCRIPT}</script>\n\
         </body></html>\n",
        model = escape(model),
    ))
}

/// Write the page atomically.
pub fn write(path: &Path, model: &str, files: &[ReviewFile]) -> anyhow::Result<()> {
    let html = page(model, files)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", dir.display()))?;
    }
    crate::output::atomically(path, |tmp| std::fs::write(tmp, html.as_bytes()))
}

const STYLE: &str = r#"
body { font: 14px system-ui, sans-serif; margin: 0 24px 48px; color: #222; }
header { position: sticky; top: 0; background: #fff; padding: 8px 0; border-bottom: 1px solid #ccc; z-index: 2; max-height: 40vh; overflow: auto; }
h1 { font-size: 18px; margin: 4px 0 8px; }
h2 { font-size: 15px; margin: 24px 0 6px; word-break: break-all; }
table#files { border-collapse: collapse; margin-top: 8px; }
#files td, #files th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #eee; }
.file { width: 1200px; }
.spec { position: relative; margin-left: 60px; width: 1140px; height: 256px; }
.spec img { width: 100%; height: 100%; display: block; image-rendering: pixelated; }
.spec svg.axes { position: absolute; left: -60px; top: 0; width: 1200px; height: 280px; overflow: visible; pointer-events: none; }
.playhead { position: absolute; top: 0; bottom: 0; width: 2px; background: #fff; box-shadow: 0 0 3px #000; left: 0; pointer-events: none; }
.roll { margin: 30px 0 0 60px; width: 1140px; }
.lane { position: relative; height: 22px; border-bottom: 1px solid #eee; }
.lane-label { position: absolute; left: -60px; width: 56px; font-size: 11px; line-height: 22px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.event { position: absolute; top: 3px; height: 16px; border-radius: 3px; cursor: pointer; opacity: .85; min-width: 2px; }
.event:hover { opacity: 1; outline: 1px solid #000; }
.event.hidden, .file.hidden, tr.hidden { display: none; }
svg.curves { display: block; width: 1200px; height: 160px; margin-top: 6px; }
audio { width: 1140px; margin-left: 60px; margin-top: 4px; }
"#;

const SCRIPT: &str = r##"
"use strict";
const errors = [];
window.addEventListener("error", e => errors.push(String(e.message || e)));
const consoleError = console.error.bind(console);
console.error = (...a) => { errors.push(a.map(String).join(" ")); consoleError(...a); };
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const SVG = "http://www.w3.org/2000/svg";
const colour = {};
function colourOf(label) {
  if (!(label in colour)) colour[label] = PALETTE[Object.keys(colour).length % PALETTE.length];
  return colour[label];
}
function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(el);
  return el;
}
function niceStep(span, target) {
  const raw = span / target, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}
function toMel(f, htk) {
  if (htk) return 2595 * Math.log10(1 + f / 700);
  const fsp = 200 / 3, minLog = 1000, minLogMel = minLog / fsp, step = Math.log(6.4) / 27;
  return f < minLog ? f / fsp : minLogMel + Math.log(f / minLog) / step;
}
const X0 = 60, W = 1140, H = 256;
function drawAxes(el, d) {
  const g = el.querySelector("svg.axes");
  const step = niceStep(d.duration, 12);
  for (let t = 0; t <= d.duration + 1e-9; t += step) {
    const x = X0 + W * t / d.duration;
    svg("line", {x1: x, x2: x, y1: H, y2: H + 5, stroke: "#333"}, g);
    svg("text", {x: x, y: H + 18, "text-anchor": "middle", "font-size": 11}, g).textContent = +t.toFixed(2) + " s";
  }
  if (!d.band) return;
  const lo = toMel(d.band.low, d.band.htk), hi = toMel(d.band.high, d.band.htk);
  for (const f of [50, 100, 200, 500, 1000, 2000, 4000, 8000, 16000]) {
    if (f < d.band.low || f > d.band.high) continue;
    const y = H - H * (toMel(f, d.band.htk) - lo) / (hi - lo);
    svg("line", {x1: X0 - 5, x2: X0, y1: y, y2: y, stroke: "#333"}, g);
    svg("text", {x: X0 - 8, y: y + 4, "text-anchor": "end", "font-size": 11}, g).textContent = f >= 1000 ? f / 1000 + " kHz" : f + " Hz";
  }
}
function drawRoll(el, d, audio) {
  const roll = el.querySelector(".roll");
  const labels = [...new Set(d.events.map(e => e.label))].sort();
  for (const label of labels) {
    const lane = document.createElement("div");
    lane.className = "lane";
    lane.dataset.label = label;
    const name = document.createElement("span");
    name.className = "lane-label";
    name.textContent = label;
    name.title = label;
    lane.appendChild(name);
    for (const e of d.events.filter(e => e.label === label)) {
      const box = document.createElement("div");
      box.className = "event";
      box.dataset.label = e.label;
      box.dataset.onset = e.onset;
      box.dataset.offset = e.offset;
      box.style.left = (100 * e.onset / d.duration) + "%";
      box.style.width = (100 * (e.offset - e.onset) / d.duration) + "%";
      box.style.background = colourOf(e.label);
      box.title = `${e.label}  ${e.onset.toFixed(2)}–${e.offset.toFixed(2)} s  (score ${e.score.toFixed(3)})`;
      box.addEventListener("click", () => {
        audio.currentTime = e.onset;
        audio.dataset.stopAt = e.offset;
        const p = audio.play();
        if (p) p.catch(() => {});
      });
      lane.appendChild(box);
    }
    roll.appendChild(lane);
  }
}
function drawCurves(el, d) {
  const g = svg("g", {transform: "translate(0, 8)"}, el.querySelector("svg.curves")), h = 120;
  svg("rect", {x: X0, y: 0, width: W, height: h, fill: "none", stroke: "#ccc"}, g);
  for (const p of [0, 0.5, 1]) {
    svg("text", {x: X0 - 6, y: h - h * p + 4, "text-anchor": "end", "font-size": 11}, g).textContent = p;
  }
  d.curves.forEach((c, i) => {
    const col = colourOf(c.label);
    const pts = c.scores.map((s, t) => `${X0 + W * Math.min(((t + 0.5) * d.hop) / d.duration, 1)},${h - h * s}`).join(" ");
    svg("polyline", {points: pts, fill: "none", stroke: col, "stroke-width": 1.5, class: "curve"}, g);
    const y = h - h * c.threshold;
    svg("line", {x1: X0, x2: X0 + W, y1: y, y2: y, stroke: col, "stroke-dasharray": "4 3", "stroke-width": 1, class: "threshold"}, g);
    svg("text", {x: X0 + 8 + 150 * i, y: h + 18, fill: col, "font-size": 12}, g).textContent = c.label;
  });
}
function follow(el, d, audio) {
  const head = el.querySelector(".playhead");
  const move = () => {
    head.style.left = (100 * audio.currentTime / d.duration) + "%";
    const stop = parseFloat(audio.dataset.stopAt);
    if (!isNaN(stop) && audio.currentTime >= stop) { audio.pause(); delete audio.dataset.stopAt; }
    if (!audio.paused) requestAnimationFrame(move);
  };
  audio.addEventListener("play", () => requestAnimationFrame(move));
  audio.addEventListener("timeupdate", move);
  audio.addEventListener("seeked", move);
}
function build() {
  const sections = [...document.querySelectorAll("section.file")];
  const tbody = document.querySelector("#files tbody");
  const classes = new Set();
  for (const el of sections) {
    const d = JSON.parse(el.querySelector("script.data").textContent);
    const audio = el.querySelector("audio");
    drawAxes(el, d);
    drawRoll(el, d, audio);
    drawCurves(el, d);
    follow(el, d, audio);
    const counts = {};
    for (const e of d.events) { counts[e.label] = (counts[e.label] || 0) + 1; classes.add(e.label); }
    el.dataset.labels = Object.keys(counts).join("\n");
    const tr = document.createElement("tr");
    tr.dataset.labels = el.dataset.labels;
    tr.innerHTML = `<td><a href="#${el.id}"></a></td><td>${d.events.length}</td><td></td>`;
    tr.querySelector("a").textContent = d.name;
    tr.cells[2].textContent = Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ");
    tbody.appendChild(tr);
    el.querySelector("h2").textContent = `${d.name} (${d.duration.toFixed(2)} s, ${d.events.length} events)`;
  }
  const filter = document.getElementById("filter");
  for (const c of [...classes].sort()) {
    const o = document.createElement("option");
    o.value = o.textContent = c;
    filter.appendChild(o);
  }
  filter.addEventListener("change", () => {
    const want = filter.value;
    const has = el => !want || el.dataset.labels.split("\n").includes(want);
    document.querySelectorAll(".event").forEach(b => b.classList.toggle("hidden", !!want && b.dataset.label !== want));
    document.querySelectorAll(".lane").forEach(l => l.classList.toggle("hidden", !!want && l.dataset.label !== want));
    sections.forEach(s => s.classList.toggle("hidden", !has(s)));
    tbody.querySelectorAll("tr").forEach(r => r.classList.toggle("hidden", !has(r)));
  });
}
function selftest() {
  const boxes = [...document.querySelectorAll(".event")];
  const out = {errors, files: document.querySelectorAll("section.file").length, events: boxes.length};
  if (boxes.length) {
    // The latest-starting event: a seek that visibly moves the player.
    const box = boxes.reduce((a, b) => parseFloat(b.dataset.onset) > parseFloat(a.dataset.onset) ? b : a);
    const audio = box.closest("section").querySelector("audio");
    box.click();
    out.clicked = {onset: parseFloat(box.dataset.onset), currentTime: audio.currentTime};
  }
  const filter = document.getElementById("filter");
  if (filter.options.length > 1) {
    filter.value = filter.options[1].value;
    filter.dispatchEvent(new Event("change"));
    out.filtered = {label: filter.value, visible: document.querySelectorAll(".event:not(.hidden)").length};
    filter.value = "";
    filter.dispatchEvent(new Event("change"));
  }
  const pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}
try { build(); } catch (e) { errors.push(String(e)); }
if (location.hash === "#selftest") selftest();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_inlines_everything() {
        let f = ReviewFile {
            name: "a<b>.wav".into(),
            duration: 2.0,
            frame_hop: 0.5,
            mel_png: vec![1, 2, 3],
            mel_band: None,
            curves: vec![],
            events: vec![ReviewEvent {
                onset: 0.5,
                offset: 1.0,
                label: "x</script>".into(),
                score: 0.9,
            }],
            audio: Audio::Embedded {
                mime: "audio/wav",
                bytes: earshot_core::wav::pcm16_bytes(&[0.0, 0.5], 16000).unwrap(),
            },
        };
        let html = page("m", &[f]).unwrap();
        assert!(html.contains("a&lt;b&gt;.wav"));
        assert!(html.contains("x<\\/script>"));
        assert!(!html.contains("http://") || html.matches("http://").count() == 1); // the SVG namespace only
        assert!(html.contains("data:audio/wav;base64,UklGR"));
    }
}
