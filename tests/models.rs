//! The model registry, the AudioSet labels, and `earshot models list|info|fetch`, with downloads
//! served by a local HTTP server started here (no network beyond 127.0.0.1).

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use earshot_core::labels::{Labels, AUDIOSET_CLASSES};
use earshot_core::registry::fetch::{self, FetchError, FetchOptions};
use earshot_core::registry::{self, Algorithm, ModelSpec, Registry, CARDS, FAMILIES};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 file server: GET only, `Range: bytes=N-`, one request per connection, and
// optionally a connection dropped part-way through the first response.

/// A request as logged: path and `Range` header.
type Request = (String, Option<String>);

struct Server {
    addr: SocketAddr,
    /// (path, Range header) of every request, in order.
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(files: HashMap<String, Vec<u8>>, drop_first_after: Option<usize>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            let mut drop_after = drop_first_after;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                let mut range = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((key, value)) = line.split_once(':') {
                        if key.eq_ignore_ascii_case("range") {
                            range = Some(value.trim().to_string());
                        }
                    }
                }
                log.lock().unwrap().push((path.clone(), range.clone()));
                let Some(body) = files.get(&path) else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                };
                let start = range
                    .as_deref()
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|n| n.parse::<usize>().ok());
                let head = match start {
                    Some(start) if start >= body.len() => {
                        let _ = stream.write_all(
                            format!(
                                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\n\
                                 Content-Length: 0\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        );
                        continue;
                    }
                    Some(start) => format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len() - 1,
                        body.len(),
                        body.len() - start
                    ),
                    None => format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    ),
                };
                let body = &body[start.unwrap_or(0)..];
                let _ = stream.write_all(head.as_bytes());
                match drop_after.take() {
                    // Send part of the body, then hang up.
                    Some(n) => {
                        let _ = stream.write_all(&body[..n.min(body.len())]);
                        let _ = stream.flush();
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                    None => {
                        let _ = stream.write_all(body);
                    }
                }
            }
        });
        Server { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Deterministic bytes that are not a real checkpoint.
fn payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A card for a test file, with the given checksums.
fn test_spec(file: &str, checksums: &[(Algorithm, String)]) -> ModelSpec {
    let mut card = format!(
        r#"name = "test-model"
family = "panns"
description = "A test file."
architecture = "Cnn14"
sample_rate = 32000
frontend = "panns-logmel"
labels = "audioset"
classes = 527
embedding_dim = 2048
licence = "none"
reference = "none"

[checkpoint]
url = "https://example.invalid/{file}"
file = "{file}"
"#
    );
    for (algorithm, value) in checksums {
        card.push_str(&format!(
            "\n[[checkpoint.checksums]]\nalgorithm = \"{algorithm}\"\nvalue = \"{value}\"\nsource = \"test\"\n"
        ));
    }
    ModelSpec::from_toml("test-model.toml", &card).expect("test card parses")
}

/// Run the binary with its cache in `home` and downloads from `base_url`.
fn earshot_in(home: &Path, base_url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = common::earshot_command();
    cmd.args(args)
        .env("EARSHOT_HOME", home)
        .env("RUST_BACKTRACE", "1")
        .env_remove("EARSHOT_MODEL_BASE_URL");
    if let Some(url) = base_url {
        cmd.env("EARSHOT_MODEL_BASE_URL", url);
    }
    cmd.output().expect("earshot runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One `error: <name>: ...` line, no panic.
fn assert_one_error_line(out: &Output, name: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.starts_with(&format!("error: {name}: ")),
        "stderr: {err:?}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

// ---------------------------------------------------------------------------------------------
// Registry and labels.

#[test]
fn every_card_parses_and_names_are_unique() {
    let registry = Registry::builtin();
    assert_eq!(registry.specs().len(), CARDS.len());
    let mut names: Vec<&str> = registry.specs().iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CARDS.len(), "duplicate names");
    // Cache file names must not collide either.
    let mut files: Vec<&str> = registry
        .specs()
        .iter()
        .map(|s| s.checkpoint.file.as_str())
        .collect();
    files.sort();
    files.dedup();
    assert_eq!(files.len(), CARDS.len(), "two cards share a file name");
}

#[test]
fn every_file_in_models_is_registered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CARDS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "models/ and registry::CARDS disagree: add the card's line to CARDS"
    );
}

#[test]
fn cards_are_sane() {
    for spec in Registry::builtin().specs() {
        let n = &spec.name;
        assert!(FAMILIES.contains(&spec.family.as_str()), "{n}");
        match spec.family.as_str() {
            "panns" => {
                let sr = spec.arguments["sample_rate"].as_u64().unwrap();
                assert_eq!(sr, spec.sample_rate as u64, "{n}: arguments disagree");
                // Every PANN runs at 100 frames per second.
                let hop = spec.arguments["hop_size"].as_u64().unwrap();
                assert_eq!(sr / hop, 100, "{n}");
                assert!(spec.frontend.starts_with("panns-"), "{n}");
                assert_eq!(spec.labels, "audioset", "{n}");
                assert!(
                    spec.checkpoint.url.starts_with("https://zenodo.org/"),
                    "{n}"
                );
            }
            "passt" => {
                assert_eq!(spec.sample_rate, 32000, "{n}");
                assert_eq!(spec.frontend, "passt-mel", "{n}");
                assert!(spec
                    .checkpoint
                    .url
                    .starts_with("https://github.com/kkoutini/PaSST/releases/download/"));
            }
            "openl3" => {
                assert_eq!(spec.sample_rate, 48000, "{n}");
                assert!(spec.frontend.starts_with("openl3-"), "{n}");
                assert!([512, 6144].contains(&spec.embedding_dim), "{n}");
            }
            "yamnet" => {
                assert_eq!(spec.sample_rate, 16000, "{n}");
                assert_eq!(spec.frontend, "yamnet-logmel", "{n}");
                assert_eq!((spec.labels.as_str(), spec.classes), ("yamnet", 521), "{n}");
                assert_eq!(spec.embedding_dim, 1024, "{n}");
            }
            _ => {
                assert_eq!(spec.sample_rate, 16000, "{n}");
                assert_eq!(spec.frontend, "waveform", "{n}");
            }
        }
        if let Some(metric) = &spec.metric {
            assert!(metric.value > 0.0, "{n}");
        }
    }
    let openl3 = Registry::builtin()
        .specs()
        .iter()
        .filter(|s| s.family == "openl3")
        .count();
    assert_eq!(openl3, 12, "the 12 OpenL3 weights");
}

#[test]
fn bad_cards_are_refused() {
    let good =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/cnn14.toml"))
            .unwrap();
    assert!(Registry::from_cards([("cnn14.toml", good.as_str())]).is_ok());
    let cases = [
        (
            "cnn14.toml",
            good.replace(
                "sample_rate = 32000\nfrontend",
                "sample_rate = 12345\nfrontend",
            ),
        ),
        (
            "cnn14.toml",
            good.replace("541141fa2ee191a88f24a3219fff024e", "541141FA"),
        ),
        (
            "cnn14.toml",
            good.replace("frontend = \"panns-logmel\"", "frontend = \"mfcc\""),
        ),
        (
            "cnn14.toml",
            good.replace("https://zenodo", "http://zenodo"),
        ),
        ("cnn14.toml", good.replace("classes = 527", "classes = 500")),
        // A vocabulary earshot does not ship, and one whose size is not the head's.
        (
            "cnn14.toml",
            good.replace("labels = \"audioset\"", "labels = \"esc50\""),
        ),
        (
            "cnn14.toml",
            good.replace("labels = \"audioset\"", "labels = \"fsd50k\""),
        ),
        (
            "cnn14.toml",
            good.replace("name = \"cnn14\"", "name = \"cnn14\"\nunknown = 1"),
        ),
        ("other.toml", good.clone()),
    ];
    for (card, text) in &cases {
        assert!(
            Registry::from_cards([(*card, text.as_str())]).is_err(),
            "accepted {card}: {text}"
        );
    }
    let twice =
        Registry::from_cards([("cnn14.toml", good.as_str()), ("cnn14.toml", good.as_str())]);
    assert!(twice.unwrap_err().to_string().contains("taken"));
}

#[test]
fn lookup_and_suggestions() {
    let registry = Registry::builtin();
    assert_eq!(registry.get("Cnn14_16k").unwrap().name, "cnn14-16k");
    let err = registry.get("cnn15").unwrap_err().to_string();
    assert!(err.contains("cnn14"), "{err}");
}

#[test]
fn audioset_labels() {
    let labels = Labels::audioset();
    assert_eq!(labels.len(), AUDIOSET_CLASSES);
    for (i, label) in labels.iter().enumerate() {
        assert_eq!(label.index, i);
        assert!(label.mid.starts_with('/'), "{label:?}");
        assert!(!label.name.is_empty());
    }
    assert_eq!(labels[0].mid, "/m/09x0r");
    assert_eq!(labels[0].name, "Speech");
    // A display name with a comma inside quotes.
    assert_eq!(labels[1].name, "Male speech, man speaking");
    assert_eq!(labels.by_mid("/m/09x0r").unwrap().index, 0);
    // The file's last row.
    assert_eq!(labels[526].index, 526);
    let mids: std::collections::HashSet<&str> = labels.iter().map(|l| l.mid.as_str()).collect();
    assert_eq!(mids.len(), AUDIOSET_CLASSES, "mids are unique");
}

#[test]
fn resolve_checkpoint_points_at_the_cache_or_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    // The only test in this binary that sets the environment.
    std::env::set_var("EARSHOT_HOME", home.path());
    let err = registry::resolve_checkpoint("cnn14")
        .unwrap_err()
        .to_string();
    assert!(err.contains("earshot models fetch cnn14"), "{err}");
    assert!(err.contains("--checkpoint PATH"), "{err}");
    let path = home.path().join("models/Cnn14_mAP=0.431.pth");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"x").unwrap();
    assert_eq!(registry::resolve_checkpoint("cnn14").unwrap(), path);
    assert!(registry::resolve_checkpoint("no-such-model").is_err());
    std::env::remove_var("EARSHOT_HOME");
}

// ---------------------------------------------------------------------------------------------
// Downloads through the library.

#[test]
fn fetch_verifies_every_checksum_and_resumes() {
    let body = payload(300_000);
    let file = "Test_mAP=0.5.pth";
    let digests = {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &body).unwrap();
        fetch::digest_file(&p).unwrap()
    };
    assert_eq!(digests.sha256, sha256_hex(&body));
    let spec = test_spec(
        file,
        &[
            (Algorithm::Md5, digests.md5.clone()),
            (Algorithm::Sha256, digests.sha256.clone()),
        ],
    );
    let server = Server::start(
        HashMap::from([(format!("/{file}"), body.clone())]),
        Some(100_000),
    );
    let dir = tempfile::tempdir().unwrap();
    let options = FetchOptions {
        base_url: Some(server.url()),
        force: false,
        dir: Some(dir.path().to_path_buf()),
    };
    // First attempt: the server hangs up after 100 000 bytes; the part stays.
    let err = fetch::fetch(&spec, &options, &mut |_| {}).unwrap_err();
    assert!(matches!(err, FetchError::Interrupted { .. }), "{err}");
    assert!(
        err.to_string().contains("run the same command again"),
        "{err}"
    );
    let partial = dir.path().join(format!("{file}.partial"));
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 100_000);
    assert!(!dir.path().join(file).exists());
    // Second attempt asks for the rest only and ends with the right file.
    let done = fetch::fetch(&spec, &options, &mut |_| {}).unwrap();
    assert_eq!(std::fs::read(&done.path).unwrap(), body);
    assert_eq!(done.verified, [Algorithm::Md5, Algorithm::Sha256]);
    assert!(!partial.exists());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].1, None);
    assert_eq!(requests[1].1.as_deref(), Some("bytes=100000-"));
    // Third time: already there, verified, nothing requested.
    let again = fetch::fetch(&spec, &options, &mut |_| {}).unwrap();
    assert!(again.already_present);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn git_blob_ids_match_git() {
    // `printf 'hello\n' | git hash-object --stdin`
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hello");
    std::fs::write(&p, b"hello\n").unwrap();
    assert_eq!(
        fetch::digest_file(&p).unwrap().git_blob_sha1,
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
}

// ---------------------------------------------------------------------------------------------
// The command line.

#[test]
fn list_and_info_formats() {
    let home = tempfile::tempdir().unwrap();
    let out = earshot_in(home.path(), None, &["models", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{table}");
    assert_eq!(lines.len(), CARDS.len() + 1);
    assert!(lines
        .iter()
        .any(|l| l.starts_with("cnn14 ") && l.contains("mAP 0.431")));

    let out = earshot_in(home.path(), None, &["models", "list", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), CARDS.len());
    for row in rows {
        assert!(row["name"].is_string() && row["cached"] == false, "{row}");
        assert!(row["checkpoint"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
    }

    let out = earshot_in(home.path(), None, &["models", "info", "cnn14"]);
    let info = text(&out.stdout);
    assert!(info.contains("Cnn14_mAP=0.431.pth"), "{info}");
    assert!(
        info.contains("md5           541141fa2ee191a88f24a3219fff024e"),
        "{info}"
    );
    assert!(info.contains("earshot models fetch cnn14"), "{info}");

    let out = earshot_in(home.path(), None, &["models", "info", "cnn14", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["name"], "cnn14");
    assert_eq!(json["sample_rate"], 32000);
    assert_eq!(json["checkpoint"]["checksums"][0]["algorithm"], "md5");
    assert_eq!(json["arguments"]["mel_bins"], 64);

    let out = earshot_in(home.path(), None, &["models", "info", "cnn15"]);
    let err = assert_one_error_line(&out, "cnn15");
    assert!(err.contains("cnn14"), "{err}");
}

#[test]
fn fetch_good_file_without_published_checksum_prints_its_sha256() {
    // cnn14-8k has no published checksum.
    let spec = registry::spec("cnn14-8k").unwrap();
    assert!(spec.checkpoint.checksums.is_empty());
    let body = payload(50_000);
    let server = Server::start(
        HashMap::from([(format!("/{}", spec.checkpoint.file), body.clone())]),
        None,
    );
    let home = tempfile::tempdir().unwrap();
    let out = earshot_in(
        home.path(),
        Some(&server.url()),
        &["models", "fetch", "cnn14-8k"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = home.path().join("models").join(&spec.checkpoint.file);
    assert_eq!(text(&out.stdout).trim(), path.display().to_string());
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let err = text(&out.stderr);
    assert!(err.contains(&sha256_hex(&body)), "{err}");
    assert!(err.contains("no published checksum"), "{err}");
    // Now listed as cached, and resolved.
    let out = earshot_in(home.path(), None, &["models", "info", "cnn14-8k", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["cached"], true);
}

#[test]
fn fetch_wrong_checksum_keeps_nothing_and_names_both_values() {
    let spec = registry::spec("cnn6").unwrap();
    let expected = &spec.checkpoint.checksums[0];
    assert_eq!(expected.algorithm, Algorithm::Md5);
    let body = payload(40_000);
    let server = Server::start(
        HashMap::from([(format!("/{}", spec.checkpoint.file), body.clone())]),
        None,
    );
    let home = tempfile::tempdir().unwrap();
    let out = earshot_in(
        home.path(),
        Some(&server.url()),
        &["models", "fetch", "cnn6"],
    );
    let err = assert_one_error_line(&out, "cnn6");
    assert!(err.contains(&expected.value), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, &body).unwrap();
    let actual = fetch::digest_file(&p).unwrap().md5;
    assert!(err.contains(&actual), "{err}");
    let models = home.path().join("models");
    let left: Vec<_> = std::fs::read_dir(&models).unwrap().collect();
    assert!(
        left.is_empty(),
        "files left in {}: {left:?}",
        models.display()
    );
}

#[test]
fn fetch_interrupted_then_resumed_from_the_command_line() {
    let spec = registry::spec("passt-s-f128-p16-s10-ap476").unwrap();
    let body = payload(200_000);
    let server = Server::start(
        HashMap::from([(format!("/{}", spec.checkpoint.file), body.clone())]),
        Some(70_000),
    );
    let home = tempfile::tempdir().unwrap();
    let args = ["models", "fetch", "passt-s-f128-p16-s10-ap476"];
    let out = earshot_in(home.path(), Some(&server.url()), &args);
    let err = assert_one_error_line(&out, "passt-s-f128-p16-s10-ap476");
    assert!(
        err.contains("interrupted after 70000 of 200000 bytes"),
        "{err}"
    );
    let out = earshot_in(home.path(), Some(&server.url()), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = home.path().join("models").join(&spec.checkpoint.file);
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert!(text(&out.stderr).contains(&sha256_hex(&body)));
    assert_eq!(server.requests()[1].1.as_deref(), Some("bytes=70000-"));
    // --force downloads again from the start.
    let out = earshot_in(
        home.path(),
        Some(&server.url()),
        &[&args[..], &["--force"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.requests()[2].1, None);
}

#[test]
fn fetch_from_an_unreachable_server_says_where_to_put_the_file() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let out = earshot_in(home.path(), Some(&url), &["models", "fetch", "cnn14"]);
    let err = assert_one_error_line(&out, "cnn14");
    assert!(err.contains("cannot reach"), "{err}");
    let dest = home.path().join("models/Cnn14_mAP=0.431.pth");
    assert!(err.contains(&dest.display().to_string()), "{err}");
    assert!(err.contains("--checkpoint PATH"), "{err}");
    // The --base-url flag works as the variable does.
    let out = earshot_in(
        home.path(),
        None,
        &["models", "fetch", "cnn14", "--base-url", &url],
    );
    assert_one_error_line(&out, "cnn14");
}

#[test]
fn missing_file_on_the_server_is_a_clear_error() {
    let server = Server::start(HashMap::new(), None);
    let home = tempfile::tempdir().unwrap();
    let out = earshot_in(
        home.path(),
        Some(&server.url()),
        &["models", "fetch", "cnn10"],
    );
    let err = assert_one_error_line(&out, "cnn10");
    assert!(err.contains("HTTP 404"), "{err}");
}

/// PANNs configurations come from the cards: every PANNs card builds one whose rate and classes
/// are the card's own, and a card whose arguments the authors' constructor would not take is
/// refused by name.
#[test]
fn panns_configs_come_from_the_cards() {
    use earshot_models::panns::{Arch, Config};
    let mut seen = 0;
    for spec in Registry::builtin()
        .specs()
        .iter()
        .filter(|s| s.family == "panns")
    {
        let cfg = Config::from_spec(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert_eq!(cfg.sample_rate, spec.sample_rate, "{}", spec.name);
        assert_eq!(cfg.classes_num as usize, spec.classes, "{}", spec.name);
        seen += 1;
    }
    assert_eq!(seen, 13);
    let cnn14_8k = Config::from_spec(registry::spec("cnn14-8k").unwrap()).unwrap();
    assert_eq!(
        (
            cnn14_8k.arch,
            cnn14_8k.window_size,
            cnn14_8k.hop_size,
            cnn14_8k.fmax
        ),
        (Arch::Cnn14, 256, 80, 4000.0)
    );
    let mut misspelt = registry::spec("cnn14").unwrap().clone();
    let hop = misspelt.arguments.remove("hop_size").unwrap();
    misspelt.arguments.insert("hopsize".into(), hop);
    let err = Config::from_spec(&misspelt).unwrap_err().to_string();
    assert!(err.contains("unknown field `hopsize`"), "{err}");
    let mut other = registry::spec("cnn14").unwrap().clone();
    other.architecture = "Cnn15".into();
    let err = Config::from_spec(&other).unwrap_err().to_string();
    assert!(err.contains("\"Cnn15\" is not a PANNs class"), "{err}");
}
