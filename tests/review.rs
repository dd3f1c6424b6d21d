//! The detection review page (`earshot report`, `detect --report`), checked in a real browser:
//! headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) loads the page with
//! `#selftest`, and the page reports what it sees (tests/../crates/cli/src/review.rs): no
//! errors, one event box per detected event, a click on an event seeking the player to its
//! onset, the class filter hiding the others. A screenshot is kept under
//! `<target>/test-output/review/` for a person to look at. The same helpers check `eval run`'s
//! evaluation page (tests/eval_run.rs).

use crate::common;
use crate::common::earshot_home_ok as run_ok;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn chromium() -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    c
}

/// Where a person finds the screenshot: beside the build, not in a temporary folder.
pub(crate) fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-output/review");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Load `page#selftest` and return what the page reported, and Chromium's console lines.
pub(crate) fn selftest(page: &Path) -> (Value, Vec<String>) {
    let url = format!("file://{}#selftest", page.display());
    let out = chromium()
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs (scripts/setup.sh installs Debian's chromium)");
    assert!(out.status.success(), "chromium: {}", text(&out.stderr));
    let dom = text(&out.stdout);
    let start = dom.find("<pre id=\"selftest\">").unwrap_or_else(|| {
        panic!(
            "no self-test result in the page: {}",
            &dom[dom.len().saturating_sub(2000)..]
        )
    }) + "<pre id=\"selftest\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let console = text(&out.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    (serde_json::from_str(&json).unwrap(), console)
}

/// Save a screenshot of `page` (1280 px wide, `height` tall) as `name` in [`output_dir`], for a
/// person to look at; returns its path.
pub(crate) fn screenshot(page: &Path, name: &str, height: u32) -> PathBuf {
    let shot = output_dir().join(name);
    let _ = std::fs::remove_file(&shot);
    let out = chromium()
        .args([
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size=1280,{height}"),
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{}: {} bytes",
        shot.display(),
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
    shot
}

#[test]
fn the_review_page_works_in_a_real_browser() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    common::import_yamnet(home.path());
    // Speech after 3 s of silence: an event that starts late.
    let speech = work.path().join("late_speech.wav");
    let silence = work.path().join("silence.wav");
    let sox = |args: &[&str]| {
        let st = Command::new("sox").args(args).status().unwrap();
        assert!(st.success(), "sox {args:?}");
    };
    sox(&[
        "-n",
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        silence.to_str().unwrap(),
        "trim",
        "0",
        "3",
    ]);
    let source = common::data_path("audio/speech_s16_16k.wav");
    sox(&[
        silence.to_str().unwrap(),
        source.to_str().unwrap(),
        speech.to_str().unwrap(),
    ]);
    let tones = common::data_path("audio/tones_s16_44k_stereo.wav");
    let page = work.path().join("review.html");
    let tsv = work.path().join("events.tsv");
    let inputs = [speech.to_str().unwrap(), tones.to_str().unwrap()];
    let mut args = vec!["detect", "--model", "yamnet-w8a8", "--threshold", "0.2"];
    args.extend(inputs);
    args.extend([
        "--report",
        page.to_str().unwrap(),
        "-o",
        tsv.to_str().unwrap(),
    ]);
    run_ok(home.path(), &args);
    let events: Vec<String> = std::fs::read_to_string(&tsv)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert!(events.len() >= 2, "{events:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("https://") && !html.contains("src=\"http"),
        "self-contained"
    );
    assert_eq!(
        html.matches("data:audio/ogg;base64,T2dnUw").count(),
        2,
        "each file's audio is embedded as Ogg (OggS)"
    );

    let (result, console) = selftest(&page);
    eprintln!("review page: {} bytes, self-test {result}", html.len());
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert!(console.is_empty(), "console: {console:?}");
    assert_eq!(result["files"], 2);
    assert_eq!(
        result["events"].as_u64(),
        Some(events.len() as u64),
        "{result}"
    );
    let clicked = &result["clicked"];
    let onset = clicked["onset"].as_f64().unwrap();
    assert!(
        onset > 2.0,
        "the late speech is the clicked event: {clicked}"
    );
    assert!(
        (clicked["currentTime"].as_f64().unwrap() - onset).abs() < 1e-3,
        "a click seeks to the onset: {clicked}"
    );
    let label = result["filtered"]["label"].as_str().unwrap();
    let of_label = events
        .iter()
        .filter(|e| e.ends_with(&format!("\t{label}")))
        .count();
    assert_eq!(
        result["filtered"]["visible"].as_u64(),
        Some(of_label as u64)
    );

    // A screenshot for a person.
    screenshot(&page, "screenshot.png", 1600);
    std::fs::copy(&page, output_dir().join("review.html")).unwrap();

    // `earshot report` with linked audio: the page names the files relative to itself.
    let linked = work.path().join("sub/linked.html");
    let mut args = vec!["report", "--model", "yamnet-w8a8", "--threshold", "0.2"];
    args.extend(inputs);
    args.extend(["--link-audio", "-o", linked.to_str().unwrap()]);
    let out = run_ok(home.path(), &args);
    assert!(out.stdout.is_empty(), "the page is the only output");
    let html = std::fs::read_to_string(&linked).unwrap();
    assert!(!html.contains("data:audio"));
    let src = html
        .split("<audio controls preload=\"auto\" src=\"")
        .nth(1)
        .unwrap();
    let src = &src[..src.find('"').unwrap()];
    assert!(
        src.starts_with("../") && src.ends_with("late_speech.wav"),
        "{src}"
    );
    assert!(linked.parent().unwrap().join(src).is_file(), "{src}");
    let (result, _) = selftest(&linked);
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert_eq!(result["events"].as_u64(), Some(events.len() as u64));

    // `--embed-audio wav`, for a browser without Vorbis: 16 kHz 16-bit WAV, and the page works.
    let wav = work.path().join("wav.html");
    let mut args = vec!["report", "--model", "yamnet-w8a8", "--threshold", "0.2"];
    args.extend(inputs);
    args.extend(["--embed-audio", "wav", "-o", wav.to_str().unwrap()]);
    run_ok(home.path(), &args);
    let wav_html = std::fs::read_to_string(&wav).unwrap();
    assert_eq!(wav_html.matches("data:audio/wav;base64,UklGR").count(), 2);
    assert!(
        wav_html.len() > 3 * html.len(),
        "Ogg pages are far lighter: {} vs {} bytes",
        html.len(),
        wav_html.len()
    );
    let (result, _) = selftest(&wav);
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    let clicked = &result["clicked"];
    assert!(
        (clicked["currentTime"].as_f64().unwrap() - clicked["onset"].as_f64().unwrap()).abs()
            < 1e-3,
        "{clicked}"
    );
}
