//! Text encodings of CRM files, and the per-file choice between them.
//!
//! French CRMs write Poliris files in UTF-8 or in Windows-1252 and declare
//! neither. A file is UTF-8 when all of its bytes are valid UTF-8, and
//! Windows-1252 otherwise: a legacy file almost never forms valid UTF-8 by
//! chance, while a UTF-8 file with one bad byte is rare. Windows-1252, not
//! Latin-1, because bytes 0x80–0x9F carry `€`, `’`, `œ` and `–` there.

use std::borrow::Cow;
use std::io::{self, Read};

use serde::Serialize;

/// A text encoding passerelle reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Windows1252 => "Windows-1252",
        }
    }

    /// Decodes bytes to text. Bytes that are invalid in the encoding become
    /// U+FFFD, which only happens when a user forces the wrong encoding.
    pub fn decode(self, bytes: &[u8]) -> Cow<'_, str> {
        match self {
            Self::Utf8 => encoding_rs::UTF_8.decode_without_bom_handling(bytes).0,
            Self::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0,
        }
    }
}

/// Reads a whole source and returns UTF-8 when every byte sequence in it is
/// valid UTF-8, else Windows-1252. Memory stays at one 64 KiB buffer.
pub fn detect_encoding(mut source: impl Read) -> io::Result<TextEncoding> {
    let mut buffer = vec![0u8; 64 * 1024];
    // Bytes of a UTF-8 sequence cut by the end of the previous chunk.
    let mut carried = 0;
    loop {
        let read = match source.read(&mut buffer[carried..]) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let filled = carried + read;
        if read == 0 {
            return Ok(if carried == 0 {
                TextEncoding::Utf8
            } else {
                TextEncoding::Windows1252
            });
        }
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => carried = 0,
            Err(error) if error.error_len().is_none() => {
                let valid = error.valid_up_to();
                buffer.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(_) => return Ok(TextEncoding::Windows1252),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns one byte per call, to cut every sequence.
    struct ByteByByte<'a>(&'a [u8]);

    impl Read for ByteByByte<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((first, rest)) if !buffer.is_empty() => {
                    buffer[0] = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn detects_utf8_across_chunk_boundaries() {
        let text = "Saint-Raphaël, cœur de ville – 249 500 €".as_bytes();
        assert_eq!(detect_encoding(ByteByByte(text)).unwrap(), TextEncoding::Utf8);
        assert_eq!(detect_encoding(text).unwrap(), TextEncoding::Utf8);
    }

    #[test]
    fn detects_windows_1252() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("Saint-Raphaël, cœur – 10 €");
        assert_eq!(detect_encoding(&bytes[..]).unwrap(), TextEncoding::Windows1252);
    }

    #[test]
    fn truncated_sequence_at_end_is_windows_1252() {
        assert_eq!(
            detect_encoding(&b"abc\xC3"[..]).unwrap(),
            TextEncoding::Windows1252
        );
    }

    #[test]
    fn empty_input_is_utf8() {
        assert_eq!(detect_encoding(&b""[..]).unwrap(), TextEncoding::Utf8);
    }

    #[test]
    fn windows_1252_decodes_c1_range() {
        let text = TextEncoding::Windows1252.decode(b"\x80 \x92 \x9C \x96");
        assert_eq!(text, "€ ’ œ –");
    }
}
