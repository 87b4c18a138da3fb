//! A strict JSON scanner: checks that bytes are JSON (RFC 8259) and finds where the
//! elements of a top-level array lie, without building any value.
//!
//! It accepts exactly what `serde_json` accepts when it skips a value (escapes are checked
//! for shape, numbers for syntax, strings for control characters and UTF-8), in one pass
//! and without allocating for nesting up to 128 levels.

/// Not valid JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

type Result<T = ()> = std::result::Result<T, Invalid>;

/// Calls `element(start, end)` for each element of the JSON array `input` (surrounding
/// whitespace allowed), in order; `Err` if `input` is anything but one valid array.
pub(crate) fn array_elements(input: &[u8], mut element: impl FnMut(usize, usize)) -> Result {
    let mut s = Scanner::new(input);
    s.ws();
    s.expect(b'[')?;
    s.ws();
    if s.peek() == Some(b']') {
        s.pos += 1;
    } else {
        loop {
            let start = s.pos;
            s.value()?;
            element(start, s.pos);
            s.ws();
            match s.next()? {
                b',' => s.ws(),
                b']' => break,
                _ => return Err(Invalid),
            }
        }
    }
    s.finish()
}

/// Checks that `input` is one JSON value (surrounding whitespace allowed).
pub(crate) fn validate(input: &[u8]) -> Result {
    let mut s = Scanner::new(input);
    s.ws();
    s.value()?;
    s.finish()
}

struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
    /// A byte above 0x7f was seen inside a string: the input's UTF-8 is checked at the end.
    non_ascii: bool,
    nesting: Nesting,
}

impl<'a> Scanner<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            non_ascii: false,
            nesting: Nesting::default(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8> {
        let c = self.peek().ok_or(Invalid)?;
        self.pos += 1;
        Ok(c)
    }

    fn expect(&mut self, c: u8) -> Result {
        if self.next()? == c {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Trailing whitespace only, then the UTF-8 check if a string needed one.
    fn finish(mut self) -> Result {
        self.ws();
        if self.pos != self.input.len() {
            return Err(Invalid);
        }
        if self.non_ascii && std::str::from_utf8(self.input).is_err() {
            return Err(Invalid);
        }
        Ok(())
    }

    /// One value, containers included (iteratively: deep nesting costs no stack).
    fn value(&mut self) -> Result {
        let base = self.nesting.depth();
        loop {
            // A value starts here.
            match self.next()? {
                b'"' => self.string()?,
                b'{' => {
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        self.nesting.push(true);
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        self.nesting.push(false);
                        continue;
                    }
                }
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                c @ (b'-' | b'0'..=b'9') => self.number(c)?,
                _ => return Err(Invalid),
            }
            // After a value: close containers until another value is due.
            loop {
                if self.nesting.depth() == base {
                    return Ok(());
                }
                self.ws();
                let in_object = self.nesting.top();
                match self.next()? {
                    b',' => {
                        self.ws();
                        if in_object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if in_object => self.nesting.pop(),
                    b']' if !in_object => self.nesting.pop(),
                    _ => return Err(Invalid),
                }
            }
        }
    }

    /// `"key" :` and the whitespace before the value.
    fn key(&mut self) -> Result {
        self.expect(b'"')?;
        self.string()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Ok(())
    }

    /// The rest of a string whose opening quote was read.
    fn string(&mut self) -> Result {
        loop {
            self.pos = skip_plain(self.input, self.pos);
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            if !self.next()?.is_ascii_hexdigit() {
                                return Err(Invalid);
                            }
                        }
                    }
                    _ => return Err(Invalid),
                },
                0..=0x1f => return Err(Invalid),
                0x80.. => self.non_ascii = true,
                _ => {}
            }
        }
    }

    fn literal(&mut self, rest: &[u8]) -> Result {
        if self.input[self.pos..].starts_with(rest) {
            self.pos += rest.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// The rest of a number whose first byte `first` was read.
    fn number(&mut self, first: u8) -> Result {
        let lead = if first == b'-' { self.next()? } else { first };
        match lead {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Result {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            Err(Invalid)
        } else {
            Ok(())
        }
    }
}

/// Where the plain string bytes from `pos` on end: past them eight at a time, up to the
/// first one that needs a look (`"`, `\`, a control character or a non-ASCII byte), or
/// to within eight bytes of the end.
pub(crate) fn skip_plain(input: &[u8], mut pos: usize) -> usize {
    while let Some(chunk) = input.get(pos..pos + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let special = special_bytes(u64::from_le_bytes(chunk));
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    pos
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `x` (little-endian order) that is `"`, `\`, below 0x20
/// or above 0x7f; exact up to the first one (bits above it may be spurious).
fn special_bytes(x: u64) -> u64 {
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v;
    (zero_in(quote) | zero_in(backslash) | (x.wrapping_sub(ONES * 0x20) & !x) | x) & HIGH
}

/// Which containers are open (object or array), innermost last: the first 128 levels in
/// a bit set, deeper ones on the heap.
#[derive(Default)]
struct Nesting {
    bits: u128,
    depth: usize,
    deeper: Vec<bool>,
}

impl Nesting {
    fn depth(&self) -> usize {
        self.depth
    }

    fn push(&mut self, object: bool) {
        if self.depth < 128 {
            let bit = 1u128 << self.depth;
            if object {
                self.bits |= bit;
            } else {
                self.bits &= !bit;
            }
        } else {
            self.deeper.push(object);
        }
        self.depth += 1;
    }

    /// Whether the innermost open container is an object (called with one open).
    fn top(&self) -> bool {
        let level = self.depth - 1;
        if level < 128 {
            self.bits & (1u128 << level) != 0
        } else {
            self.deeper.last().copied().unwrap_or(false)
        }
    }

    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth >= 128 {
            self.deeper.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    /// What serde_json makes of `input` as an array of raw elements.
    fn reference(input: &[u8]) -> Option<Vec<(usize, usize)>> {
        let base = input.as_ptr() as usize;
        let items: Vec<&RawValue> = serde_json::from_slice(input).ok()?;
        Some(
            items
                .iter()
                .map(|r| {
                    let start = r.get().as_ptr() as usize - base;
                    (start, start + r.get().len())
                })
                .collect(),
        )
    }

    fn ours(input: &[u8]) -> Option<Vec<(usize, usize)>> {
        let mut spans = Vec::new();
        array_elements(input, |s, e| spans.push((s, e))).ok()?;
        Some(spans)
    }

    fn same(input: &[u8]) {
        assert_eq!(
            ours(input),
            reference(input),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        // (serde_json skips strings without checking their UTF-8; validated text is UTF-8.)
        let Ok(text) = std::str::from_utf8(input) else {
            return;
        };
        let value_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        assert_eq!(
            validate(input).is_ok(),
            value_ok,
            "validate {:?}",
            String::from_utf8_lossy(input)
        );
    }

    const CASES: &[&str] = &[
        r#"["echo",{"client":1,"seq":2,"text":"abc"}]"#,
        r#" [ "a" , 1 , -2.5e+3 , true , false , null , [ ] , { } ] "#,
        r#"["\"\\\/\b\f\n\r\t\u00e9\uD800"]"#,
        r#"["é", "日本", {"ключ": ["ü"]}]"#,
        "[]",
        "[ ]",
        "[[[[[]]]]]",
        r#"[{"a":{"b":{"c":[1,[2,[3]]]}}}]"#,
        "[0, -0, 0.5, 1E9, 1e-9, 12345678901234567890123]",
        "[1e400]",
        // invalid
        "",
        "[",
        "]",
        "[,]",
        "[1,]",
        "[1 2]",
        "[01]",
        "[-]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[1e+]",
        "[+1]",
        "[tru]",
        "[nul]",
        "[True]",
        r#"["a]"#,
        r#"["\x"]"#,
        r#"["\u12G4"]"#,
        "[\"tab\there\"]",
        r#"[{"a"}]"#,
        r#"[{"a":}]"#,
        r#"[{"a":1,}]"#,
        r#"[{1:2}]"#,
        r#"[{"a":1]"#,
        r#"[[1}]"#,
        "[1] x",
        "[1][2]",
        "{\"a\":1}",
        "\"s\"",
        "[NaN]",
        "[Infinity]",
        "[1]\u{0}",
    ];

    #[test]
    fn agrees_with_serde_json_on_known_cases() {
        for case in CASES {
            same(case.as_bytes());
        }
        same(b"[\"\xff\"]");
        same(b"[\"\xc3\xa9\"]");
        same(b"[\xc3\xa9]");
        let deep = format!("[{}{}]", "[".repeat(300), "]".repeat(300));
        same(deep.as_bytes());
        let deep_objects = format!("[{}1{}]", r#"{"k":"#.repeat(200), "}".repeat(200));
        same(deep_objects.as_bytes());
    }

    /// The eight-at-a-time skip stops at the right byte wherever it lies.
    #[test]
    fn strings_with_a_special_byte_anywhere() {
        let specials: &[&[u8]] = &[
            b"\"",
            b"\\n",
            b"\\u0041",
            b"\\q",
            b"\x01",
            b"\x1f",
            b"\xc3\xa9",
            b"\xff",
            b" ",
            b"\x7f",
        ];
        for len in 0..20 {
            for at in 0..=len {
                for special in specials {
                    let mut text = b"[\"".to_vec();
                    text.extend(std::iter::repeat_n(b'a', at));
                    text.extend_from_slice(special);
                    text.extend(std::iter::repeat_n(b'b', len - at));
                    text.extend_from_slice(b"\",1]");
                    same(&text);
                }
            }
        }
    }

    /// Random edits of valid packets: every result is judged the same as serde_json's.
    #[test]
    fn agrees_with_serde_json_on_mutations() {
        let alphabet = b"[]{}\",:\\ \t\n01-+.eEtruefalsnl\x1f\x7f\xc3\xa9\xffuA";
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut valid, mut invalid) = (0, 0);
        for case in CASES.iter().take(10) {
            for _ in 0..3000 {
                let mut bytes = case.as_bytes().to_vec();
                for _ in 0..1 + next() % 3 {
                    let at = (next() as usize) % (bytes.len() + 1);
                    let c = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 3 {
                        0 if at < bytes.len() => bytes[at] = c,
                        1 if at < bytes.len() => {
                            bytes.remove(at);
                        }
                        _ => bytes.insert(at, c),
                    }
                }
                same(&bytes);
                if ours(&bytes).is_some() {
                    valid += 1;
                } else {
                    invalid += 1;
                }
            }
        }
        // The edits exercise both outcomes.
        assert!(
            valid > 1000 && invalid > 1000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
