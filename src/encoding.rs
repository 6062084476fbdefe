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

    /// Returns the name that `--encoding` takes: `utf-8` or `windows-1252`.
    pub fn flag_value(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Windows1252 => "windows-1252",
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

/// What one pass over a source found about its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingScan {
    /// Every byte sequence is valid UTF-8.
    pub valid_utf8: bool,
    /// At least one byte is outside ASCII.
    pub non_ascii: bool,
    /// Offset of the first byte that is not valid UTF-8.
    pub first_invalid: Option<u64>,
    /// The bytes before that one hold non-ASCII characters, all valid UTF-8.
    pub utf8_before_invalid: bool,
}

impl EncodingScan {
    /// The encoding to read the source with: UTF-8 when it is valid UTF-8,
    /// else Windows-1252.
    pub fn encoding(self) -> TextEncoding {
        if self.valid_utf8 {
            TextEncoding::Utf8
        } else {
            TextEncoding::Windows1252
        }
    }

    /// Explains why reading the source with a forced `encoding` garbles its
    /// text, or returns `None` when the choice is sound.
    pub fn forced_mismatch(self, encoding: TextEncoding) -> Option<&'static str> {
        match encoding {
            TextEncoding::Utf8 if !self.valid_utf8 => {
                Some("the file is not valid UTF-8, so its invalid bytes become U+FFFD (\u{fffd})")
            }
            TextEncoding::Windows1252 if self.valid_utf8 && self.non_ascii => {
                Some("the file is valid UTF-8, so reading it as Windows-1252 garbles accented letters")
            }
            _ => None,
        }
    }

    /// Explains why a detected Windows-1252 may be wrong: the file was
    /// valid UTF-8, accented letters included, up to one stray byte. Read as
    /// Windows-1252, those letters come out garbled (`Ã©` for `é`).
    pub fn stray_byte(self) -> Option<String> {
        let offset = self.first_invalid?;
        self.utf8_before_invalid.then(|| {
            format!(
                "byte {offset} is not valid UTF-8, although the accented text before it is, so the file is \
                 read as Windows-1252; if its accents come out garbled, pass --encoding utf-8"
            )
        })
    }
}

/// Reads a whole source once and reports whether it is valid UTF-8 and
/// whether it has any non-ASCII byte. Memory stays at one 64 KiB buffer.
pub fn scan_encoding(mut source: impl Read) -> io::Result<EncodingScan> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut scan = EncodingScan {
        valid_utf8: true,
        non_ascii: false,
        first_invalid: None,
        utf8_before_invalid: false,
    };
    // Bytes of a UTF-8 sequence cut by the end of the previous chunk.
    let mut carried = 0;
    // Offset in the source of the buffer's first byte.
    let mut offset: u64 = 0;
    // Whether the bytes validated so far hold a non-ASCII character.
    let mut valid_non_ascii = false;
    loop {
        let read = match source.read(&mut buffer[carried..]) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if read == 0 {
            if carried > 0 && scan.valid_utf8 {
                scan.valid_utf8 = false;
                scan.first_invalid = Some(offset);
                scan.utf8_before_invalid = valid_non_ascii;
            }
            return Ok(scan);
        }
        let filled = carried + read;
        let chunk_non_ascii = !buffer[carried..filled].is_ascii();
        scan.non_ascii |= chunk_non_ascii;
        if !scan.valid_utf8 {
            carried = 0;
            continue;
        }
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => {
                // Carried bytes are the rest of a multi-byte character.
                valid_non_ascii |= chunk_non_ascii || carried > 0;
                offset += filled as u64;
                carried = 0;
            }
            Err(error) if error.error_len().is_none() => {
                let valid = error.valid_up_to();
                valid_non_ascii |= !buffer[..valid].is_ascii();
                offset += valid as u64;
                buffer.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(error) => {
                let valid = error.valid_up_to();
                scan.utf8_before_invalid = valid_non_ascii || !buffer[..valid].is_ascii();
                scan.valid_utf8 = false;
                scan.first_invalid = Some(offset + valid as u64);
                carried = 0;
            }
        }
    }
}

/// Reads a whole source and returns UTF-8 when every byte sequence in it is
/// valid UTF-8, else Windows-1252.
pub fn detect_encoding(source: impl Read) -> io::Result<TextEncoding> {
    Ok(scan_encoding(source)?.encoding())
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
    fn stray_byte_in_utf8_is_located() {
        let scan = scan_encoding(ByteByByte(
            "Nîmes, cœur "
                .as_bytes()
                .iter()
                .chain(b"\xff rest")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
        ))
        .unwrap();
        assert_eq!(scan.encoding(), TextEncoding::Windows1252);
        assert_eq!(scan.first_invalid, Some(14));
        assert!(scan.utf8_before_invalid);
        let warning = scan.stray_byte().unwrap();
        assert!(warning.starts_with("byte 14 is not valid UTF-8"), "{warning}");

        for legacy in [
            scan_encoding(&b"N\xeemes"[..]).unwrap(),
            scan_encoding(ByteByByte(b"N\xeemes")).unwrap(),
        ] {
            assert_eq!(legacy.first_invalid, Some(1));
            assert_eq!(legacy.stray_byte(), None, "no UTF-8 before: a Windows-1252 file");
        }
        assert_eq!(scan_encoding(&b"abc\xC3"[..]).unwrap().first_invalid, Some(3));
    }

    #[test]
    fn forced_encoding_mismatches() {
        let cp1252 = scan_encoding(&b"N\xeemes"[..]).unwrap();
        assert!(cp1252.forced_mismatch(TextEncoding::Utf8).is_some());
        assert_eq!(cp1252.forced_mismatch(TextEncoding::Windows1252), None);
        let utf8 = scan_encoding("Nîmes".as_bytes()).unwrap();
        assert!(utf8.forced_mismatch(TextEncoding::Windows1252).is_some());
        let ascii = scan_encoding(&b"Nimes"[..]).unwrap();
        assert_eq!(ascii.forced_mismatch(TextEncoding::Windows1252), None);
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
