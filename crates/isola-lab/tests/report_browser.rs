//! The report opens in a real browser and shows every chart: `isola-lab report DIR` on a small
//! JSON fixture set (startup, compute, memory, density, e2e, attack), then headless Chromium renders
//! the page to a screenshot (a valid, non-blank PNG of the window size) and dumps its DOM (every
//! chart's <svg> is there with content). The page must be self-contained: no http(s) src/href.
//! Skips only when chromium is not installed, and then says so ("SKIPPED: chromium not installed").

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 4000;
/// Charts the fixture set must produce: startup 3 (idle, busy, against code size), compute 1,
/// memory 2 (USS, PSS), density 2, e2e 2 (pod start, per-pod memory).
const CHARTS: usize = 10;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/report")
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
    })
}

/// Writes the report for the fixture set into a fresh directory and returns (dir, index.html).
fn render_fixture_report() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_isola-lab"))
        .arg("--work")
        .arg(dir.path().join("work"))
        .arg("report")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "isola-lab report failed: {}", String::from_utf8_lossy(&out.stderr));
    let page = dir.path().join("index.html");
    assert!(page.is_file(), "no index.html");
    (dir, page)
}

/// Every `src=`/`href=` attribute value of the page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "xlink:href="] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(attr) {
            let start = from + i + attr.len();
            let rest = &html[start..];
            let value: String = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => rest[1..].chars().take_while(|c| *c != q).collect(),
                _ => rest.chars().take_while(|c| !c.is_whitespace() && *c != '>').collect(),
            };
            out.push(value);
            from = start;
        }
    }
    out
}

#[test]
fn report_is_self_contained_and_has_every_chart() {
    let (_dir, page) = render_fixture_report();
    let html = std::fs::read_to_string(&page).unwrap();
    for l in links(&html) {
        let l = l.trim().to_ascii_lowercase();
        assert!(!l.starts_with("http://") && !l.starts_with("https://") && !l.starts_with("//"), "network link in the report: {l}");
    }
    assert!(!html.to_ascii_lowercase().contains("@import"), "CSS import in the report");
    assert_eq!(html.matches("<svg").count(), CHARTS, "one <svg> per chart");
    for needle in ["Startup", "Compute", "Memory", "Density", "Attack matrix", "wasmtime-inprocess", "GEOMEAN isola-wasm", "busy machine", "code-quickjs (1021 KB of code)", "Per-pod memory"] {
        assert!(html.contains(needle), "report lacks {needle:?}");
    }
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        println!("SKIPPED: chromium not installed");
        eprintln!("SKIPPED: chromium not installed");
        return;
    };
    let (dir, page) = render_fixture_report();
    let url = format!("file://{}", page.display());
    let profile = dir.path().join("chromium-profile");
    let base = |c: &mut Command| {
        c.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .env("HOME", dir.path());
    };

    // 1. The DOM after rendering holds every chart, each with drawn content.
    let mut c = Command::new(&chrome);
    base(&mut c);
    let out = c.arg("--dump-dom").arg(&url).output().unwrap();
    assert!(out.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let svgs: Vec<&str> = dom.split("<svg").skip(1).map(|s| s.split("</svg>").next().unwrap_or("")).collect();
    assert_eq!(svgs.len(), CHARTS, "rendered DOM has {} <svg> charts", svgs.len());
    for (i, svg) in svgs.iter().enumerate() {
        let shapes = svg.matches("<rect").count() + svg.matches("<polyline").count() + svg.matches("<path").count();
        let texts = svg.matches("<text").count();
        assert!(shapes >= 3 && texts >= 3, "chart {i} is empty: {shapes} shapes, {texts} texts");
    }

    // 2. The screenshot is a PNG of the window size that is not blank.
    let shot = dir.path().join("report.png");
    let mut c = Command::new(&chrome);
    base(&mut c);
    let out = c
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(out.status.success() && shot.is_file(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    let png = decode_png(&std::fs::read(&shot).unwrap());
    assert_eq!((png.width, png.height), (WIDTH, HEIGHT), "screenshot size");
    let px = png.pixels();
    let first = px[0];
    let differing = px.iter().filter(|p| **p != first).count();
    assert!(differing * 100 > px.len(), "screenshot is (nearly) uniform: {differing} of {} pixels differ", px.len());
    let mut colours: Vec<[u8; 3]> = px.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() >= 8, "screenshot has only {} colours (charts are coloured)", colours.len());
    // Chart bars are saturated colours; a page of text alone has none.
    let saturated = px.iter().filter(|[r, g, b]| r.max(g).max(b) - r.min(g).min(b) > 80).count();
    assert!(saturated > 2000, "no coloured chart area in the screenshot ({saturated} saturated pixels)");
}

/// A decoded 8-bit PNG (greyscale, RGB or RGBA, with or without alpha).
struct Png {
    width: u32,
    height: u32,
    channels: usize,
    data: Vec<u8>,
}

impl Png {
    /// RGB of every pixel.
    fn pixels(&self) -> Vec<[u8; 3]> {
        self.data
            .chunks(self.channels)
            .map(|p| match self.channels {
                1 | 2 => [p[0], p[0], p[0]],
                _ => [p[0], p[1], p[2]],
            })
            .collect()
    }
}

/// Checks the signature and IHDR, inflates the IDAT stream and undoes the row filters.
fn decode_png(bytes: &[u8]) -> Png {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let mut pos = 8;
    let (mut width, mut height, mut channels) = (0u32, 0u32, 0usize);
    let mut idat = Vec::new();
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let body = &bytes[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().unwrap());
                height = u32::from_be_bytes(body[4..8].try_into().unwrap());
                assert_eq!(body[8], 8, "bit depth");
                assert_eq!(body[12], 0, "interlaced PNG");
                channels = match body[9] {
                    0 => 1,
                    2 => 3,
                    4 => 2,
                    6 => 4,
                    t => panic!("PNG colour type {t}"),
                };
            }
            b"IDAT" => idat.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    assert!(width > 0 && height > 0 && !idat.is_empty(), "PNG without IHDR/IDAT");
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = width as usize * channels;
    assert_eq!(raw.len(), height as usize * (stride + 1), "IDAT size");
    let mut data = vec![0u8; height as usize * stride];
    for y in 0..height as usize {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels { data[y * stride + x - channels] as i16 } else { 0 };
            let b = if y > 0 { data[(y - 1) * stride + x] as i16 } else { 0 };
            let c = if x >= channels && y > 0 { data[(y - 1) * stride + x - channels] as i16 } else { 0 };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("PNG filter {f}"),
            };
            data[y * stride + x] = line[x].wrapping_add(pred as u8);
        }
    }
    Png { width, height, channels, data }
}

#[test]
fn png_decoder_rejects_garbage_and_reads_a_known_image() {
    // A 2x1 RGB image: one red, one white pixel (filter 0), zlib-compressed by flate2 itself.
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&[0, 255, 0, 0, 255, 255, 255]).unwrap();
    let idat = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], body: &[u8]| {
        png.extend_from_slice(&(body.len() as u32).to_be_bytes());
        png.extend_from_slice(kind);
        png.extend_from_slice(body);
        png.extend_from_slice(&[0, 0, 0, 0]); // CRC is not checked
    };
    chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    chunk(b"IDAT", &idat);
    chunk(b"IEND", &[]);
    let img = decode_png(&png);
    assert_eq!((img.width, img.height), (2, 1));
    assert_eq!(img.pixels(), vec![[255, 0, 0], [255, 255, 255]]);
    assert!(std::panic::catch_unwind(|| decode_png(b"GIF89a\0\0\0\0\0\0")).is_err());
}
