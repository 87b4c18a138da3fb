//! Reads JSON text straight into an [`AnyValue`], with no serde visitor in between.
//!
//! It accepts exactly what `serde_json` accepts for an `AnyValue` (RFC 8259, nesting up
//! to 127 levels, no lone surrogates in `\u` escapes, numbers that fit an `f64`) and
//! gives the same values, binary placeholders included. Numbers with a fraction or an
//! exponent (or too long for a u64) are read with the standard library's correctly
//! rounded parser; serde_json reads them correctly rounded too because this crate enables
//! its `float_roundtrip` feature (without it, its fast path can be up to two units in the
//! last place off for more than 17 significant digits). Errors read like serde_json's
//! ("… at line 1 column 5").

use bytes::Bytes;
use serde::de::Error as _;

use super::scan::skip_plain;
use super::{AnyMap, AnyValue};
use crate::json_text::{write_string, write_u64};

/// Deepest nesting of arrays and objects read (`serde_json`'s limit).
const MAX_DEPTH: u32 = 127;

/// Reads `input` (one JSON value, whitespace around it allowed), a value that sits `depth`
/// levels deep in its document (the nesting limit counts them). A binary placeholder
/// `{"_placeholder":true,"num":n}` becomes `attachments[n]`; without that attachment it
/// stays a plain object.
pub(crate) fn parse(input: &str, attachments: &[Bytes], depth: u32) -> Result<AnyValue> {
    let mut p = Parser {
        text: input,
        bytes: input.as_bytes(),
        pos: 0,
        depth,
        attachments,
    };
    p.ws();
    let value = p.value()?;
    p.ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    attachments: &'a [Bytes],
}

type Result<T> = std::result::Result<T, serde_json::Error>;

impl Parser<'_> {
    fn error(&self, what: &str) -> serde_json::Error {
        // As serde_json counts: the bytes read, the offending one included.
        let read = &self.bytes[..(self.pos + 1).min(self.bytes.len())];
        let line = 1 + read.iter().filter(|&&c| c == b'\n').count();
        let column = read.iter().rev().take_while(|&&c| c != b'\n').count();
        serde_json::Error::custom(format_args!("{what} at line {line} column {column}"))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("EOF while parsing a value"))?;
        self.pos += 1;
        Ok(c)
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<()> {
        if self.next()? == c {
            Ok(())
        } else {
            self.pos -= 1;
            Err(self.error(what))
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<AnyValue> {
        match self.next()? {
            b'"' => self.string().map(AnyValue::String),
            b'{' => self.nested(Self::object),
            b'[' => self.nested(Self::array),
            b't' => self.literal("rue", AnyValue::Bool(true)),
            b'f' => self.literal("alse", AnyValue::Bool(false)),
            b'n' => self.literal("ull", AnyValue::Null),
            c @ (b'-' | b'0'..=b'9') => self.number(c),
            _ => {
                self.pos -= 1;
                Err(self.error("expected value"))
            }
        }
    }

    fn nested(&mut self, read: fn(&mut Self) -> Result<AnyValue>) -> Result<AnyValue> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn literal(&mut self, rest: &str, value: AnyValue) -> Result<AnyValue> {
        if self.bytes[self.pos..].starts_with(rest.as_bytes()) {
            self.pos += rest.len();
            Ok(value)
        } else {
            Err(self.error("expected value"))
        }
    }

    /// The rest of an array whose `[` was read.
    fn array(&mut self) -> Result<AnyValue> {
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(AnyValue::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Ok(AnyValue::Array(items)),
                _ => {
                    self.pos -= 1;
                    return Err(self.error("expected `,` or `]`"));
                }
            }
        }
    }

    /// The rest of an object whose `{` was read.
    fn object(&mut self) -> Result<AnyValue> {
        let mut map = AnyMap::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(AnyValue::Object(map));
        }
        loop {
            self.expect(b'"', "key must be a string")?;
            let key = self.string()?;
            self.ws();
            self.expect(b':', "expected `:`")?;
            self.ws();
            let value = self.value()?;
            map.insert(key, value);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.error("expected `,` or `}`"));
                }
            }
        }
        AnyValue::from_object(map, |i| self.attachments.get(i).cloned())
            .map_err(|_| self.error("invalid placeholder"))
    }

    /// The rest of a string whose opening quote was read. Without escapes it is one copy
    /// of the text; with them, the runs between escapes are gathered.
    fn string(&mut self) -> Result<String> {
        let mut escaped: Option<String> = None;
        let mut run = self.pos;
        loop {
            self.pos = skip_plain(self.bytes, self.pos);
            match self.peek() {
                Some(b'"') => {
                    let tail = &self.text[run..self.pos];
                    self.pos += 1;
                    return Ok(match escaped {
                        None => tail.to_owned(),
                        Some(mut out) => {
                            out.push_str(tail);
                            out
                        }
                    });
                }
                Some(b'\\') => {
                    let out = escaped.get_or_insert_with(String::new);
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    self.escape(out)?;
                    run = self.pos;
                }
                Some(0..=0x1f) => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    /// One escape, its `\` read.
    fn escape(&mut self, out: &mut String) -> Result<()> {
        let c = match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return Err(self.error("invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    /// The code point of a `\u` escape (its `\u` read), a surrogate pair included.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.pos..].starts_with(b"\\u") {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
            other => other,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid escape"))?;
            n = n * 16 + digit;
        }
        Ok(n)
    }

    /// The rest of a number whose first byte `first` was read.
    fn number(&mut self, first: u8) -> Result<AnyValue> {
        let start = self.pos - 1;
        let negative = first == b'-';
        let lead = if negative { self.next()? } else { first };
        let mut significand: u64 = 0;
        let mut overflow = false;
        match lead {
            b'0' => {}
            b'1'..=b'9' => {
                significand = u64::from(lead - b'0');
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                    match significand
                        .checked_mul(10)
                        .and_then(|s| s.checked_add(u64::from(c - b'0')))
                    {
                        Some(s) => significand = s,
                        None => overflow = true,
                    }
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.error("invalid number"));
            }
        }
        let mut float = overflow;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
            float = true;
        }
        if !float {
            if !negative {
                return Ok(AnyValue::Number(significand.into()));
            }
            // `-0` and anything below i64::MIN are floats, as serde_json reads them.
            if significand != 0 && significand <= 1 << 63 {
                return Ok(AnyValue::Number(
                    (0u64.wrapping_sub(significand) as i64).into(),
                ));
            }
        }
        let value: f64 = self.text[start..self.pos]
            .parse()
            .map_err(|_| self.error("invalid number"))?;
        serde_json::Number::from_f64(value)
            .map(AnyValue::Number)
            .ok_or_else(|| self.error("number out of range"))
    }

    fn some_digits(&mut self) -> Result<()> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            Err(self.error("invalid number"))
        } else {
            Ok(())
        }
    }
}

/// Writes `value` as JSON to `out`, as `serde_json` writes it; each binary value becomes
/// a placeholder numbered after the attachments already in `attachments`, and is added
/// there.
pub(crate) fn write(value: &AnyValue, out: &mut Vec<u8>, attachments: &mut Vec<Bytes>) {
    match value {
        AnyValue::Null => out.extend_from_slice(b"null"),
        AnyValue::Bool(true) => out.extend_from_slice(b"true"),
        AnyValue::Bool(false) => out.extend_from_slice(b"false"),
        AnyValue::Number(n) => write_number(n, out),
        AnyValue::String(s) => write_string(s, out),
        AnyValue::Binary(bytes) => {
            out.extend_from_slice(br#"{"_placeholder":true,"num":"#);
            write_u64(attachments.len() as u64, out);
            out.push(b'}');
            attachments.push(bytes.clone());
        }
        AnyValue::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out, attachments);
            }
            out.push(b']');
        }
        AnyValue::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write(item, out, attachments);
            }
            out.push(b'}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        write_u64(u, out);
    } else if let Some(i) = n.as_i64() {
        out.push(b'-');
        write_u64(i.unsigned_abs(), out);
    } else {
        // Floats: serde_json's own formatting (shortest round-trip form).
        let _ = serde_json::to_writer(&mut *out, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole document.
    fn parse(input: &str, attachments: &[Bytes]) -> Result<AnyValue> {
        super::parse(input, attachments, 0)
    }

    /// What serde_json makes of `input` through `AnyValue`'s `Deserialize`.
    fn via_serde(input: &str, attachments: &[Bytes]) -> Option<AnyValue> {
        super::super::binary::with_decode_attachments(attachments, || {
            serde_json::from_str::<AnyValue>(input)
        })
        .ok()
    }

    fn same(input: &str) {
        assert_eq!(
            parse(input, &[]).ok(),
            via_serde(input, &[]),
            "input: {input:?}"
        );
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for input in [
            "null",
            " true ",
            "false",
            "0",
            "-0",
            "-1",
            "12345678901234567890",
            "-9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "-2.5e-3",
            "1E+2",
            "1e400",
            "1e-400",
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\ud83d\ude00 é😀""#,
            r#"{"a":1,"b":[1,2,{"c":null}],"a":2}"#,
            "[]",
            "{}",
            " [ 1 , 2 ] ",
            r#"{"_placeholder":true,"num":0}"#,
            // Rejected by both.
            "",
            "nul",
            "01",
            "1.",
            "-",
            ".5",
            "+1",
            "1e",
            "[1,]",
            "[1 2]",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            r#"{1:2}"#,
            "\"a\u{1}\"",
            r#""\x""#,
            r#""\ud83d""#,
            r#""\ud83dx""#,
            r#""\ude00""#,
            r#""\u12""#,
            r#""abc"#,
            "[1] x",
            r#"{"_placeholder":true,"num":-1}"#,
            r#"{"_placeholder":true,"num":1.5}"#,
        ] {
            same(input);
        }
    }

    #[test]
    fn random_edits_read_as_serde_json_reads_them() {
        const SAMPLE: &str = r#"{"client":1,"seq":-20,"text":"h\u00e9\"l\\n\ud83d\ude00 déjà 😀","list":[1.5e3,true,false,null,{}],"bin":{"_placeholder":true,"num":0}}"#;
        const ALPHABET: &[u8] = b"[]{}\",:\\/-+0123456789eE.tnfu_ \x01";
        let attachments = [Bytes::from_static(b"\x01")];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rand = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut read, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut bytes = SAMPLE.as_bytes().to_vec();
            for _ in 0..1 + rand(3) {
                let at = rand(bytes.len() + 1);
                let c = ALPHABET[rand(ALPHABET.len())];
                match rand(3) {
                    0 if at < bytes.len() => bytes[at] = c,
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, c),
                }
            }
            // An edit inside a multi-byte character is not text: not what arguments are.
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            match (parse(text, &attachments), via_serde(text, &attachments)) {
                (Ok(ours), Some(theirs)) => {
                    assert_eq!(ours, theirs, "{text}");
                    let (mut written, mut binary) = (Vec::new(), Vec::new());
                    write(&ours, &mut written, &mut binary);
                    let expected =
                        super::super::binary::collect_attachments(|| serde_json::to_string(&ours));
                    assert_eq!(
                        (std::str::from_utf8(&written).unwrap(), binary),
                        (expected.0.unwrap().as_str(), expected.1)
                    );
                    read += 1;
                }
                (Err(_), None) => refused += 1,
                (ours, theirs) => panic!("{text}: {ours:?} / {theirs:?}"),
            }
        }
        assert!(
            read > 1000 && refused > 1000,
            "{read} read, {refused} refused"
        );
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let samples = [
            r#"{"client":1,"seq":-20,"big":18446744073709551615,"min":-9223372036854775808}"#,
            r#"[1.5,-0.0,1e300,2.5e-8,0.1,true,false,null,[],{}]"#,
            r#""quote\" backslash\\ slash/ \b\f\n\r\t \u0001\u001f\u007f é😀 long enough to take the eight-byte path""#,
            r#"{"nested":{"a":[{"b":"c"}]},"a":"x"}"#,
        ];
        for text in samples {
            let value = parse(text, &[]).unwrap();
            let mut ours = Vec::new();
            let mut attachments = Vec::new();
            write(&value, &mut ours, &mut attachments);
            assert_eq!(
                std::str::from_utf8(&ours).unwrap(),
                serde_json::to_string(&value).unwrap()
            );
            assert!(attachments.is_empty());
        }
    }

    #[test]
    fn binary_values_become_numbered_placeholders() {
        let value = AnyValue::Array(vec![
            AnyValue::Binary(Bytes::from_static(b"a")),
            AnyValue::Binary(Bytes::from_static(b"b")),
        ]);
        let mut out = Vec::new();
        let mut attachments = vec![Bytes::from_static(b"earlier")];
        write(&value, &mut out, &mut attachments);
        assert_eq!(
            out,
            br#"[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#
        );
        assert_eq!(attachments.len(), 3);
    }

    #[test]
    fn errors_name_the_place_as_serde_json_does() {
        for input in [
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "[\n  1,\n  x]",
            "\"abc",
            "1 2",
            "[",
            "",
        ] {
            let ours = parse(input, &[]).unwrap_err().to_string();
            let theirs = serde_json::from_str::<AnyValue>(input).unwrap_err();
            let place = format!("line {} column {}", theirs.line(), theirs.column());
            assert!(ours.ends_with(&place), "{input:?}: {ours} / {theirs}");
        }
    }

    #[test]
    fn all_arguments_nest_one_level_deeper() {
        for depth in [126, 127] {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let args = super::super::Args::parse_ack(format!("[1,{nested}]").into()).unwrap();
            assert_eq!(
                args.get_all_any().is_ok(),
                args.get_all::<AnyValue>().is_ok(),
                "depth {depth}"
            );
        }
    }

    #[test]
    fn long_integers_are_correctly_rounded() {
        let text = "123456789012345678901234";
        let expected = serde_json::Number::from_f64(text.parse().unwrap()).unwrap();
        assert_eq!(parse(text, &[]).unwrap(), AnyValue::Number(expected));
    }

    /// Numbers of more than 17 significant digits. Without `float_roundtrip`, serde_json
    /// reads the first three two units in the last place off, and the 24-digit integer,
    /// the halfway case after 1 and the one near the smallest normal one unit off; with
    /// the feature on (gateway-core's Cargo.toml) it reads the same correctly rounded f64
    /// as the direct reader and the standard library.
    #[test]
    fn more_than_17_digits_read_as_serde_json_reads_them() {
        for text in [
            "548748987.489650720e-16",
            "613411727.307028942e-14",
            "85694203427.72447621713e-17",
            "-0.12345678901234567890123456789",
            "123456789012345678901234",
            "1.00000000000000011102230246251565404236316680908203125",
            "[2.2250738585072011e-308, 9007199254740993.0000000000000001]",
        ] {
            let exact = serde_json::from_str::<serde_json::Value>(text).unwrap();
            let ours = parse(text, &[]).unwrap();
            assert_eq!(ours, AnyValue::from(exact), "{text}");
            assert_eq!(Some(ours), via_serde(text, &[]), "{text}");
            if !text.starts_with('[') {
                let std_f64: f64 = text.parse().unwrap();
                assert_eq!(
                    serde_json::from_str::<f64>(text).unwrap(),
                    std_f64,
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn nesting_stops_where_serde_json_stops() {
        for depth in [127, 128, 129, 5000] {
            let input = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            same(&input);
        }
        assert!(parse(&format!("{}{}", "[".repeat(127), "]".repeat(127)), &[]).is_ok());
        assert!(parse(&format!("{}{}", "[".repeat(128), "]".repeat(128)), &[]).is_err());
    }

    #[test]
    fn placeholders_name_attachments() {
        let attachments = [Bytes::from_static(b"\x01")];
        let input = r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        let value = parse(input, &attachments).unwrap();
        assert_eq!(value, via_serde(input, &attachments).unwrap());
        let AnyValue::Array(items) = value else {
            panic!("not an array")
        };
        assert_eq!(items[0], AnyValue::Binary(attachments[0].clone()));
        assert!(matches!(items[1], AnyValue::Object(_)));
    }

    #[test]
    fn a_rewritten_key_keeps_its_place() {
        let value = parse(r#"{"a":1,"b":2,"a":3}"#, &[]).unwrap();
        let AnyValue::Object(map) = value else {
            panic!("not an object")
        };
        let keys: Vec<&str> = map.keys().collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(map["a"], AnyValue::Number(3.into()));
    }
}
