//! A photo server on 127.0.0.1 for the photo tests, and the photos it
//! serves, generated here: JPEG (with or without an EXIF orientation), PNG
//! and WebP. The server honours `If-None-Match` with its ETags, and counts
//! requests and the body bytes it sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use image::{ImageEncoder, Rgb, RgbImage};
use tokio::runtime::Runtime;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Response the server sends for one path.
#[derive(Clone)]
pub struct Served {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: Option<String>,
    pub delay: Option<Duration>,
}

impl Served {
    /// Returns a photo response with an ETag derived from its bytes.
    pub fn photo(body: Vec<u8>, content_type: &str) -> Self {
        let etag = format!("\"{:016x}\"", fingerprint(&body));
        Self {
            status: 200,
            body,
            content_type: content_type.to_string(),
            etag: Some(etag),
            delay: None,
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub conditional: bool,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Served>,
    /// Response for paths without a route; 404 when `None`.
    fallback: Option<Served>,
    seen: Vec<Seen>,
    body_bytes: u64,
}

#[derive(Clone)]
struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let path = request.url.path().to_string();
        let if_none_match = request
            .headers
            .get("if-none-match")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        state.seen.push(Seen {
            path: path.clone(),
            conditional: if_none_match.is_some() || request.headers.contains_key("if-modified-since"),
        });
        let Some(served) = state.routes.get(&path).or(state.fallback.as_ref()).cloned() else {
            return ResponseTemplate::new(404).set_body_string("not found");
        };
        let mut response = if served.etag.is_some() && served.etag == if_none_match {
            ResponseTemplate::new(304)
        } else {
            state.body_bytes += served.body.len() as u64;
            ResponseTemplate::new(served.status).set_body_raw(served.body.clone(), &served.content_type)
        };
        if let Some(etag) = &served.etag {
            response = response.insert_header("ETag", etag.as_str());
        }
        if let Some(delay) = served.delay {
            response = response.set_delay(delay);
        }
        response
    }
}

/// The running server. It stops when dropped.
pub struct Gallery {
    /// Keeps the server's tasks running.
    _runtime: Runtime,
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl Gallery {
    pub fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let server = runtime.block_on(MockServer::start());
        let state = Arc::new(Mutex::new(State::default()));
        runtime.block_on(
            Mock::given(method("GET"))
                .respond_with(Responder(Arc::clone(&state)))
                .mount(&server),
        );
        Self {
            _runtime: runtime,
            server,
            state,
        }
    }

    /// Returns the URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.uri())
    }

    /// Returns the server's address as `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        self.server.uri()
    }

    pub fn serve(&self, path: &str, served: Served) {
        self.state.lock().unwrap().routes.insert(path.to_string(), served);
    }

    /// Serves `served` for every path without a route of its own.
    pub fn serve_any(&self, served: Served) {
        self.state.lock().unwrap().fallback = Some(served);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn body_bytes(&self) -> u64 {
        self.state.lock().unwrap().body_bytes
    }

    /// Forgets the requests and bytes counted so far.
    pub fn reset_counts(&self) {
        let mut state = self.state.lock().unwrap();
        state.seen.clear();
        state.body_bytes = 0;
    }
}

fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Returns a picture whose left half is red and right half blue, so that
/// a test can tell which way it was turned.
pub fn two_tone(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            Rgb([220, 30, 30])
        } else {
            Rgb([30, 30, 220])
        }
    })
}

/// Encodes a JPEG; with `orientation`, it carries that EXIF orientation.
pub fn jpeg(image: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
    if let Some(orientation) = orientation {
        encoder.set_exif_metadata(exif_orientation(orientation)).unwrap();
    }
    encoder
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    bytes
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    bytes
}

pub fn webp(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut bytes)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    bytes
}

/// Builds a TIFF-structured EXIF block, big-endian, with one entry: Orientation.
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut exif = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    exif.extend_from_slice(&1u16.to_be_bytes());
    exif.extend_from_slice(&0x0112u16.to_be_bytes());
    exif.extend_from_slice(&3u16.to_be_bytes());
    exif.extend_from_slice(&1u32.to_be_bytes());
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_be_bytes());
    exif
}

/// Builds a small PNG that declares `side` × `side` pixels: its header is all
/// a decoder needs to be asked for gigabytes.
pub fn png_bomb(side: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    // 8-bit greyscale, deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    push_chunk(&mut bytes, b"IHDR", &header);
    // A zlib stream of a few thousand zeros; a decoder stops long before.
    let zeros = vec![0u8; 4096];
    // One stored (uncompressed) deflate block, final.
    let mut compressed = vec![0x78, 0x01, 0x01];
    compressed.extend_from_slice(&(zeros.len() as u16).to_le_bytes());
    compressed.extend_from_slice(&(!(zeros.len() as u16)).to_le_bytes());
    compressed.extend_from_slice(&zeros);
    compressed.extend_from_slice(&adler32(&zeros).to_be_bytes());
    push_chunk(&mut bytes, b"IDAT", &compressed);
    push_chunk(&mut bytes, b"IEND", &[]);
    bytes
}

fn push_chunk(bytes: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
    bytes.extend_from_slice(kind);
    bytes.extend_from_slice(data);
    let mut covered = kind.to_vec();
    covered.extend_from_slice(data);
    bytes.extend_from_slice(&crc32(&covered).to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in bytes {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}
