//! Decoding a photo and rendering its variants. The bytes' signature is
//! checked first, then the declared size, before any pixel is decoded, so
//! that a small file declaring a huge image is rejected. The EXIF
//! orientation is applied, and each variant is resized with a SIMD resizer
//! and encoded.

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A size to render, fitting the photo in a `max_side` square.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantSpec {
    pub name: String,
    pub max_side: u32,
}

/// Encoding of the rendered variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Jpeg,
    /// Lossless WebP: the encoder compiled in has no lossy mode, so the
    /// quality setting does not apply.
    Webp,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
        }
    }
}

/// Settings for decoding and rendering photos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderSettings {
    /// Largest first is fastest: each variant is resized from the previous one.
    pub variants: Vec<VariantSpec>,
    pub format: OutputFormat,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
    /// Largest width or height accepted, in pixels.
    pub max_side: u32,
    /// Largest width × height accepted.
    pub max_pixels: u64,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            variants: vec![
                VariantSpec {
                    name: "large".to_string(),
                    max_side: 1600,
                },
                VariantSpec {
                    name: "thumb".to_string(),
                    max_side: 400,
                },
            ],
            format: OutputFormat::Jpeg,
            quality: 82,
            max_side: 20_000,
            max_pixels: 50_000_000,
        }
    }
}

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("not a JPEG, PNG or WebP image (the file starts with {start:?})")]
    UnknownFormat { start: String },
    #[error("refused as a likely decompression bomb: {width} × {height} pixels is over {limit}")]
    TooManyPixels { width: u32, height: u32, limit: String },
    #[error("the JPEG data stops before its end marker: the file is cut short")]
    Truncated,
    #[error("cannot decode the {format} image: {reason}")]
    Decode { format: &'static str, reason: String },
    #[error("cannot resize: {0}")]
    Resize(String),
    #[error("cannot encode the {variant} variant: {reason}")]
    Encode { variant: String, reason: String },
}

/// One rendered variant.
#[derive(Debug)]
pub struct RenderedVariant {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// A decoded photo's size, after orientation, and its variants.
#[derive(Debug)]
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    pub variants: Vec<RenderedVariant>,
}

/// Returns the image format the bytes start with, among those decoded here.
///
/// # Errors
/// [`RenderError::UnknownFormat`], with the first bytes for the message.
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, RenderError> {
    let format = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    };
    format.ok_or_else(|| {
        let head = &bytes[..bytes.len().min(16)];
        RenderError::UnknownFormat {
            start: String::from_utf8_lossy(head).into_owned(),
        }
    })
}

/// Decodes a photo and renders every variant. Never upscales: a variant
/// larger than the photo keeps the photo's size.
///
/// # Errors
/// The bytes are not a supported image, declare more pixels than allowed,
/// or cannot be decoded or encoded.
pub fn render(bytes: &[u8], settings: &RenderSettings) -> Result<Rendered, RenderError> {
    let image = decode(bytes, settings)?;
    let (width, height) = (image.width(), image.height());
    let mut source = image;
    let mut variants = Vec::with_capacity(settings.variants.len());
    let mut resizer = Resizer::new();
    let mut ordered: Vec<&VariantSpec> = settings.variants.iter().collect();
    ordered.sort_by_key(|variant| std::cmp::Reverse(variant.max_side));
    for spec in ordered {
        let (target_width, target_height) = fit(source.width(), source.height(), spec.max_side);
        let resized = if (target_width, target_height) == source.dimensions() {
            source.clone()
        } else {
            let mut resized = RgbImage::new(target_width, target_height);
            let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
            resizer
                .resize(&source, &mut resized, &options)
                .map_err(|error| RenderError::Resize(error.to_string()))?;
            resized
        };
        let encoded = encode(&resized, settings).map_err(|error| RenderError::Encode {
            variant: spec.name.clone(),
            reason: error.to_string(),
        })?;
        variants.push(RenderedVariant {
            name: spec.name.clone(),
            width: target_width,
            height: target_height,
            bytes: encoded,
        });
        source = resized;
    }
    // Back to the configured order.
    variants.sort_by_key(|variant| {
        settings
            .variants
            .iter()
            .position(|spec| spec.name == variant.name)
    });
    Ok(Rendered {
        width,
        height,
        variants,
    })
}

/// Decodes to RGB with the EXIF orientation applied; transparency is
/// flattened onto white, as photos are shown on white pages.
fn decode(bytes: &[u8], settings: &RenderSettings) -> Result<RgbImage, RenderError> {
    let format = sniff(bytes)?;
    let format_name = format.extensions_str().first().copied().unwrap_or("image");
    let decode_error = |error: image::ImageError| RenderError::Decode {
        format: format_name,
        reason: error.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(settings.max_side);
    limits.max_image_height = Some(settings.max_side);
    // Room for the decoded pixels at four bytes each, plus the decoder's own buffers.
    limits.max_alloc = Some(settings.max_pixels * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|error| match error {
        image::ImageError::Limits(_) => too_many_pixels(bytes, format, settings),
        other => decode_error(other),
    })?;
    let (width, height) = decoder.dimensions();
    if let Some(error) = size_error(width, height, settings) {
        return Err(error);
    }
    // The JPEG decoder fills a cut-off picture with grey instead of failing.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(RenderError::Truncated);
    }
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    Ok(if image.color().has_alpha() {
        flatten_on_white(image)
    } else {
        image.into_rgb8()
    })
}

/// Builds the bomb error when the decoder refused the header itself; the
/// size is read again without limits, header only, for the message.
fn too_many_pixels(bytes: &[u8], format: ImageFormat, settings: &RenderSettings) -> RenderError {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    let (width, height) = reader.into_dimensions().unwrap_or((0, 0));
    size_error(width, height, settings).unwrap_or(RenderError::TooManyPixels {
        width,
        height,
        limit: "the decoder's memory limit".to_string(),
    })
}

/// Returns the error for a picture over a size limit, naming the limit.
fn size_error(width: u32, height: u32, settings: &RenderSettings) -> Option<RenderError> {
    let limit = if width.max(height) > settings.max_side {
        format!("the limit of {} px per side", settings.max_side)
    } else if u64::from(width) * u64::from(height) > settings.max_pixels {
        format!("the limit of {} pixels (photos.max_pixels)", settings.max_pixels)
    } else {
        return None;
    };
    Some(RenderError::TooManyPixels { width, height, limit })
}

/// Returns whether a JPEG's last scan is followed by the end-of-image
/// marker. Inside compressed data a 0xFF byte is always followed by 0x00 or
/// a restart marker, so `FF D9` after the last `FF DA` (start of scan) can
/// only be the end marker. An EXIF thumbnail's own end marker comes earlier.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(last_scan) = bytes.windows(2).rposition(|pair| pair == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[last_scan..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

fn flatten_on_white(image: DynamicImage) -> RgbImage {
    let rgba = image.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (target, source) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u16::from(source[3]);
        for channel in 0..3 {
            let blended = (u16::from(source[channel]) * alpha + 255 * (255 - alpha)) / 255;
            target[channel] = blended as u8;
        }
    }
    rgb
}

/// Returns the size that fits `width` × `height` in a `max_side` square,
/// never larger than the original.
pub fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side || longest == 0 {
        return (width, height);
    }
    let scale = f64::from(max_side) / f64::from(longest);
    let scaled = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    (scaled(width), scaled(height))
}

fn encode(image: &RgbImage, settings: &RenderSettings) -> image::ImageResult<Vec<u8>> {
    let mut bytes = Vec::new();
    match settings.format {
        OutputFormat::Jpeg => {
            JpegEncoder::new_with_quality(&mut bytes, settings.quality).encode_image(image)?;
        }
        OutputFormat::Webp => {
            WebPEncoder::new_lossless(&mut bytes).encode(
                image.as_raw(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )?;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb};

    fn small_settings() -> RenderSettings {
        RenderSettings {
            variants: vec![
                VariantSpec {
                    name: "large".to_string(),
                    max_side: 64,
                },
                VariantSpec {
                    name: "thumb".to_string(),
                    max_side: 16,
                },
            ],
            ..RenderSettings::default()
        }
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        bytes
    }

    #[test]
    fn fit_keeps_the_ratio_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 1600), (1600, 1200));
        assert_eq!(fit(3000, 4000, 400), (300, 400));
        assert_eq!(fit(800, 600, 1600), (800, 600));
        assert_eq!(fit(5000, 2, 400), (400, 1));
    }

    #[test]
    fn renders_each_variant_in_the_configured_order() {
        let rendered = render(&png(100, 50), &small_settings()).unwrap();
        assert_eq!((rendered.width, rendered.height), (100, 50));
        let sizes: Vec<(&str, u32, u32)> = rendered
            .variants
            .iter()
            .map(|variant| (variant.name.as_str(), variant.width, variant.height))
            .collect();
        assert_eq!(sizes, [("large", 64, 32), ("thumb", 16, 8)]);
        let decoded = image::load_from_memory(&rendered.variants[0].bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 32));
        assert_eq!(sniff(&rendered.variants[1].bytes).unwrap(), ImageFormat::Jpeg);
    }

    #[test]
    fn webp_output_is_webp() {
        let settings = RenderSettings {
            format: OutputFormat::Webp,
            ..small_settings()
        };
        let rendered = render(&png(100, 50), &settings).unwrap();
        for variant in &rendered.variants {
            assert_eq!(sniff(&variant.bytes).unwrap(), ImageFormat::WebP);
        }
        let decoded = image::load_from_memory(&rendered.variants[1].bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (16, 8));
    }

    #[test]
    fn html_is_not_an_image() {
        let error = render(b"<!DOCTYPE html><html>", &small_settings()).unwrap_err();
        assert!(
            error.to_string().contains("not a JPEG, PNG or WebP image"),
            "{error}"
        );
    }

    #[test]
    fn huge_declared_size_is_refused_before_decoding() {
        let settings = RenderSettings {
            max_side: 1000,
            ..small_settings()
        };
        let error = render(&png(1200, 10), &settings).unwrap_err();
        assert!(error.to_string().contains("decompression bomb"), "{error}");
        assert!(
            error
                .to_string()
                .contains("1200 × 10 pixels is over the limit of 1000 px per side"),
            "{error}"
        );
    }

    #[test]
    fn cut_off_jpeg_is_refused() {
        let image = RgbImage::from_fn(64, 64, |x, y| Rgb([(x * 4) as u8, (y * 4) as u8, 90]));
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&image)
            .unwrap();
        assert!(render(&bytes, &small_settings()).is_ok());
        bytes.truncate(bytes.len() * 2 / 3);
        let error = render(&bytes, &small_settings()).unwrap_err();
        assert!(matches!(error, RenderError::Truncated), "{error}");
    }

    #[test]
    fn truncated_image_is_a_decode_error() {
        let mut bytes = png(40, 40);
        bytes.truncate(bytes.len() / 2);
        let error = render(&bytes, &small_settings()).unwrap_err();
        assert!(matches!(error, RenderError::Decode { .. }), "{error}");
    }
}
