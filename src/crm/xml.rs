//! Streaming XML records for the XML adapters (Kyero, OpenImmo): the file
//! is read event by event, and each record element (`<property>`,
//! `<immobilie>`) is built into a small tree on its own, so memory contains
//! one record whatever the file size.
//!
//! Third-party XML is read defensively: a `<!DOCTYPE>` is refused, so no
//! entity is ever defined or expanded (no "billion laughs"); only the five
//! predefined entities and character references are accepted. Nesting
//! depth, text size and record size are limited, and a file that stops
//! inside an element is an error that names the open element.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use thiserror::Error;

/// Limits on one XML file.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    /// Elements open at once, at most.
    pub max_depth: usize,
    /// Bytes of text in one element, at most.
    pub max_text_bytes: usize,
    /// Bytes of text and attributes in one record, at most.
    pub max_record_bytes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_text_bytes: 1024 * 1024,
            max_record_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Position in an XML file: line (from 1) and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub offset: u64,
}

#[derive(Debug, Error)]
pub enum XmlError {
    #[error("line {}: malformed XML: {reason}", at.line)]
    Syntax { at: Position, reason: String },
    #[error(
        "line {}: <!DOCTYPE> is not accepted: a feed defines no entities, and entity definitions are how \
         XML bombs expand",
        at.line
    )]
    Doctype { at: Position },
    #[error("line {}: unknown entity `&{name};`; only &amp; &lt; &gt; &apos; &quot; and &#…; are accepted", at.line)]
    UnknownEntity { at: Position, name: String },
    #[error("line {}: elements nested more than {limit} deep", at.line)]
    TooDeep { at: Position, limit: usize },
    #[error("line {}: text of <{element}> is longer than {limit} bytes", at.line)]
    TextTooLong {
        at: Position,
        element: String,
        limit: usize,
    },
    #[error("line {}: record <{element}> is larger than {limit} bytes", at.line)]
    RecordTooLarge {
        at: Position,
        element: String,
        limit: usize,
    },
    #[error("the file ends inside <{element}> (opened on line {}): it is cut short", opened.line)]
    Truncated { element: String, opened: Position },
    #[error("cannot read the file")]
    Io(#[source] std::sync::Arc<std::io::Error>),
}

/// One element and everything inside it. Text is the element's own text,
/// entities resolved, trimmed at both ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Returns the first child of that name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    /// Returns the element as JSON, for the raw record kept beside a listing: child
    /// elements by name (a list when repeated), text as `#text` beside
    /// them, attributes as `@name`. Children named in `private` are left out.
    pub fn to_json(&self, private: &[&str]) -> serde_json::Value {
        use serde_json::{Map, Value};
        if self.children.is_empty() && self.attributes.is_empty() {
            return Value::String(self.text.clone());
        }
        let mut object = Map::new();
        for (key, value) in &self.attributes {
            object.insert(format!("@{key}"), Value::String(value.clone()));
        }
        if !self.text.is_empty() {
            object.insert("#text".to_string(), Value::String(self.text.clone()));
        }
        for child in &self.children {
            if private.contains(&child.name.as_str()) {
                continue;
            }
            let value = child.to_json(private);
            match object.get_mut(&child.name) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    object.insert(child.name.clone(), value);
                }
            }
        }
        Value::Object(object)
    }

    /// Returns the trimmed text at a path of child names, `None` when missing or blank.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        let mut element = self;
        for name in path {
            element = element.child(name)?;
        }
        Some(element.text.trim()).filter(|text| !text.is_empty())
    }
}

/// A record element with where it starts.
#[derive(Debug, Clone)]
pub struct Record {
    pub element: Element,
    pub at: Position,
}

/// Reads the record elements of a file one at a time. Elements named in
/// `records` are returned whole wherever they are; everything else is
/// walked through.
pub struct RecordReader<R: BufRead> {
    reader: quick_xml::Reader<R>,
    records: &'static [&'static str],
    limits: XmlLimits,
    buffer: Vec<u8>,
    /// Names of the open elements outside records, with where they opened.
    open: Vec<(String, Position)>,
    /// The record being read, with where it opened.
    record: Option<(String, Position)>,
    /// The document's root element, once met.
    root: Option<String>,
    line: u64,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(source: R, records: &'static [&'static str], limits: XmlLimits) -> Self {
        let mut reader = quick_xml::Reader::from_reader(source);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Self {
            reader,
            records,
            limits,
            buffer: Vec::new(),
            open: Vec::new(),
            record: None,
            root: None,
            line: 1,
        }
    }

    /// Returns the name of the document's root element, once read past it.
    pub fn root(&self) -> Option<&str> {
        self.root.as_deref()
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            offset: self.reader.buffer_position(),
        }
    }

    /// Returns the next record, or `None` at the end of the file.
    ///
    /// # Errors
    /// Malformed or cut-short XML, a refused construct or an exceeded limit.
    pub fn next_record(&mut self) -> Result<Option<Record>, XmlError> {
        loop {
            let at = self.position();
            let event = self.next_event()?;
            if let Owned::Start(element) | Owned::Empty(element) = &event
                && self.open.is_empty()
                && self.root.is_none()
            {
                self.root = Some(element.name.clone());
            }
            match event {
                Owned::Start(element) => {
                    if self.records.contains(&element.name.as_str()) {
                        self.record = Some((element.name.clone(), at));
                        let element = self.read_record(element, at)?;
                        self.record = None;
                        return Ok(Some(Record { element, at }));
                    }
                    self.open.push((element.name, at));
                    if self.open.len() > self.limits.max_depth {
                        return Err(XmlError::TooDeep {
                            at,
                            limit: self.limits.max_depth,
                        });
                    }
                }
                Owned::Empty(element) => {
                    if self.records.contains(&element.name.as_str()) {
                        return Ok(Some(Record { element, at }));
                    }
                }
                Owned::End => {
                    self.open.pop();
                }
                Owned::Text(_) => {}
                Owned::Eof => {
                    return match self.open.pop() {
                        Some((element, opened)) => Err(XmlError::Truncated { element, opened }),
                        None => Ok(None),
                    };
                }
            }
        }
    }

    /// Builds a record from its start tag to its end tag.
    fn read_record(&mut self, root: Element, opened: Position) -> Result<Element, XmlError> {
        let mut stack = vec![(root, opened)];
        let mut size = 0usize;
        loop {
            let at = self.position();
            let event = self.next_event()?;
            match event {
                Owned::Start(element) => {
                    size += element.name.len();
                    stack.push((element, at));
                    if stack.len() + self.open.len() > self.limits.max_depth {
                        return Err(XmlError::TooDeep {
                            at,
                            limit: self.limits.max_depth,
                        });
                    }
                }
                Owned::Empty(element) => {
                    size += element.name.len() + attributes_size(&element);
                    if let Some((parent, _)) = stack.last_mut() {
                        parent.children.push(element);
                    }
                }
                Owned::Text(text) => {
                    let Some((element, _)) = stack.last_mut() else {
                        continue;
                    };
                    // Entities split a text into several events: join them
                    // as they are, and trim once the element ends.
                    element.text.push_str(&text);
                    size += text.len();
                    if element.text.len() > self.limits.max_text_bytes {
                        return Err(XmlError::TextTooLong {
                            at,
                            element: element.name.clone(),
                            limit: self.limits.max_text_bytes,
                        });
                    }
                }
                Owned::End => {
                    let (mut element, _) = stack.pop().expect("an end tag closes an open element");
                    let trimmed = element.text.trim();
                    if trimmed.len() != element.text.len() {
                        element.text = trimmed.to_string();
                    }
                    match stack.last_mut() {
                        Some((parent, _)) => parent.children.push(element),
                        None => return Ok(element),
                    }
                }
                Owned::Eof => {
                    let (record, opened) = &stack[0];
                    return Err(XmlError::Truncated {
                        element: record.name.clone(),
                        opened: *opened,
                    });
                }
            }
            if size > self.limits.max_record_bytes {
                return Err(XmlError::RecordTooLarge {
                    at: opened,
                    element: stack[0].0.name.clone(),
                    limit: self.limits.max_record_bytes,
                });
            }
        }
    }

    /// Reads the next event that matters, with entities resolved into text.
    fn next_event(&mut self) -> Result<Owned, XmlError> {
        loop {
            self.buffer.clear();
            let at = self.position();
            let event = match self.reader.read_event_into(&mut self.buffer) {
                Ok(event) => event,
                Err(quick_xml::Error::Io(error)) => return Err(XmlError::Io(error)),
                Err(error) => {
                    let message = error.to_string();
                    // quick-xml reports a file cut inside a tag as a syntax error.
                    let cut_short = ["unclosed", "EOF", "end of file", "end of input"]
                        .iter()
                        .any(|sign| message.contains(sign));
                    let open = self.record.clone().or_else(|| self.open.last().cloned());
                    if cut_short && let Some((element, opened)) = open {
                        return Err(XmlError::Truncated { element, opened });
                    }
                    return Err(XmlError::Syntax { at, reason: message });
                }
            };
            let owned = match event {
                Event::Start(start) => Some(Owned::Start(element_of(&start, at)?)),
                Event::Empty(start) => Some(Owned::Empty(element_of(&start, at)?)),
                Event::End(_) => Some(Owned::End),
                Event::Text(text) => Some(Owned::Text(text.xml10_content().into_owned())),
                Event::CData(data) => Some(Owned::Text(data.into_inner().into_owned())),
                Event::GeneralRef(reference) => Some(Owned::Text(resolve_reference(&reference, at)?)),
                Event::DocType(_) => return Err(XmlError::Doctype { at }),
                Event::Eof => Some(Owned::Eof),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => None,
            };
            // The buffer contains the event's bytes without the markup, so
            // counting its line breaks keeps the line number exact.
            self.line += memchr::memchr_iter(b'\n', &self.buffer).count() as u64;
            let Some(owned) = owned else {
                continue;
            };
            return Ok(owned);
        }
    }
}

/// An event with its data copied out of the read buffer.
enum Owned {
    Start(Element),
    Empty(Element),
    End,
    Text(String),
    Eof,
}

fn element_of(start: &BytesStart<'_>, at: Position) -> Result<Element, XmlError> {
    let name = start.local_name().as_ref().to_string();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| XmlError::Syntax {
            at,
            reason: error.to_string(),
        })?;
        let key = attribute.key.local_name().as_ref().to_string();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|error| match error {
                quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, entity)) => {
                    XmlError::UnknownEntity { at, name: entity }
                }
                other => XmlError::Syntax {
                    at,
                    reason: other.to_string(),
                },
            })?;
        attributes.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attributes,
        ..Element::default()
    })
}

fn attributes_size(element: &Element) -> usize {
    element
        .attributes
        .iter()
        .map(|(key, value)| key.len() + value.len())
        .sum()
}

/// Resolves `&name;`: the five predefined entities and character references.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>, at: Position) -> Result<String, XmlError> {
    if let Ok(Some(character)) = reference.resolve_char_ref() {
        return Ok(character.to_string());
    }
    let name = reference.as_ref().to_string();
    let text = match name.as_str() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "apos" => "'",
        "quot" => "\"",
        _ => return Err(XmlError::UnknownEntity { at, name }),
    };
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(xml: &str, limits: XmlLimits) -> Result<Vec<Record>, XmlError> {
        let mut reader = RecordReader::new(xml.as_bytes(), &["property"], limits);
        let mut found = Vec::new();
        while let Some(record) = reader.next_record()? {
            found.push(record);
        }
        Ok(found)
    }

    #[test]
    fn builds_each_record_with_its_line() {
        let xml = "<?xml version=\"1.0\"?>\n<root>\n<kyero><feed_version>3</feed_version></kyero>\n\
                   <property>\n<id>1</id>\n<desc><en><![CDATA[Sea <b>view</b>]]></en></desc>\n</property>\n\
                   <property><id>2</id><ref>A &amp; B &#233;t&#xE9;</ref><image id=\"7\"/></property>\n</root>\n";
        let found = records(xml, XmlLimits::default()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].at.line, 4);
        assert_eq!(found[0].element.text_at(&["id"]), Some("1"));
        assert_eq!(found[0].element.text_at(&["desc", "en"]), Some("Sea <b>view</b>"));
        assert_eq!(found[1].at.line, 8);
        assert_eq!(found[1].element.text_at(&["ref"]), Some("A & B été"));
        assert_eq!(
            found[1].element.child("image").unwrap().attribute("id"),
            Some("7")
        );
    }

    #[test]
    fn refuses_a_billion_laughs() {
        let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \
                   \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\n<root><property>&lol2;</property></root>";
        let error = records(xml, XmlLimits::default()).unwrap_err();
        assert!(matches!(error, XmlError::Doctype { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("line 2: <!DOCTYPE> is not accepted"),
            "{error}"
        );
    }

    #[test]
    fn refuses_unknown_entities() {
        let error = records("<root><property>&nbsp;</property></root>", XmlLimits::default()).unwrap_err();
        assert!(matches!(error, XmlError::UnknownEntity { .. }), "{error}");
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let xml = format!("<root>{}{}</root>", "<a>".repeat(10_000), "</a>".repeat(10_000));
        let error = records(&xml, XmlLimits::default()).unwrap_err();
        assert!(matches!(error, XmlError::TooDeep { limit: 64, .. }), "{error}");
        let inside = format!("<root><property>{}</property></root>", "<a>".repeat(100));
        assert!(matches!(
            records(&inside, XmlLimits::default()).unwrap_err(),
            XmlError::TooDeep { .. }
        ));
    }

    #[test]
    fn file_cut_inside_a_record_names_it() {
        let error = records("<root>\n<property><id>1</id>\n<price>12", XmlLimits::default()).unwrap_err();
        assert!(matches!(error, XmlError::Truncated { .. }), "{error}");
        assert!(error.to_string().contains("<property>"), "{error}");
        let error = records(
            "<root>\n<property><id>1</id></property>\n<prop",
            XmlLimits::default(),
        )
        .unwrap_err();
        assert!(
            matches!(error, XmlError::Truncated { .. } | XmlError::Syntax { .. }),
            "{error}"
        );
    }

    /// Reads every record the reader gives, stopping at the first error.
    fn drain(bytes: &[u8]) {
        let mut reader = RecordReader::new(bytes, &["property"], XmlLimits::default());
        while let Ok(Some(_)) = reader.next_record() {}
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            drain(&bytes);
        }

        #[test]
        fn token_soup_never_panics(tokens in proptest::collection::vec(0usize..14, 0..200)) {
            const TOKENS: [&str; 14] = [
                "<property>", "</property>", "<id>", "</id>", "<root>", "</root>", "text", "&amp;",
                "&bogus;", "<![CDATA[x]]>", "<a b=\"c\"/>", "<!DOCTYPE x>", "&#0;", "\n",
            ];
            let xml: String = tokens.iter().map(|token| TOKENS[*token]).collect();
            drain(xml.as_bytes());
        }
    }

    #[test]
    fn long_text_is_an_error() {
        let limits = XmlLimits {
            max_text_bytes: 10,
            ..XmlLimits::default()
        };
        let error = records(
            "<root><property><desc>0123456789AB</desc></property></root>",
            limits,
        )
        .unwrap_err();
        assert!(matches!(error, XmlError::TextTooLong { .. }), "{error}");
    }
}
