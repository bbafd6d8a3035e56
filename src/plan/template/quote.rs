//! Go's string helpers, ported from `strconv/quote.go` (`Quote`, `QuoteToASCII`, `QuoteRune`, `CanBackquote`,
//! `UnquoteChar`, `Unquote`), `strconv.IsPrint` and `fmt`'s `%#U`. The lexer and parser use them to read string and
//! character literals and to quote them back in error messages; `printf`'s `%q`/`%U` and Hive's wrappers use them too.

/// Approximates Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub(super) fn is_go_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_char = matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private_use = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let non_character = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !(format_char || private_use || non_character)
}

pub(super) const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

fn push_escaped_rune(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_go_print(r) {
            out.push(r);
            return;
        }
    } else if is_go_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ => {
            let u = r as u32;
            if u < 0x20 || u == 0x7f {
                out.push_str("\\x");
                out.push(LOWER_HEX[(u >> 4) as usize] as char);
                out.push(LOWER_HEX[(u & 0xF) as usize] as char);
            } else if u < 0x10000 {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(LOWER_HEX[((u >> shift) & 0xF) as usize] as char);
                }
            } else {
                out.push_str("\\U");
                for shift in [28, 24, 20, 16, 12, 8, 4, 0] {
                    out.push(LOWER_HEX[((u >> shift) & 0xF) as usize] as char);
                }
            }
        }
    }
}

/// Go's `strconv.Quote` (and `QuoteToASCII` when `ascii_only`).
pub(super) fn go_quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote` / `%q`.
pub(super) fn go_quote(s: &str) -> String {
    go_quote_with(s, false)
}

/// Go's `strconv.QuoteRune` (and `QuoteRuneToASCII`).
pub(super) fn go_quote_rune(r: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped_rune(&mut out, r, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
pub(super) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}'))
}

/// Go's `%#U` of a rune (`U+00E9 'é'`).
pub(super) fn go_sharp_u(c: char) -> String {
    let mut s = format!("U+{:04X}", c as u32);
    if is_go_print(c) {
        s.push_str(&format!(" '{c}'"));
    }
    s
}

pub(super) fn truncate_runes(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `strconv.UnquoteChar`: one (possibly escaped) character from the start of `s`. Returns the code point (or raw
/// byte for `\x`/octal escapes, flagged by `false`), and the rest of the input.
pub(super) fn unquote_char(s: &[u8], quote: u8) -> Result<(u32, bool, &[u8]), ()> {
    let Some(&c) = s.first() else { return Err(()) };
    if c == quote && (quote == b'\'' || quote == b'"') {
        return Err(());
    }
    if c >= 0x80 {
        let text = std::str::from_utf8(&s[..s.len().min(4)])
            .or_else(|e| std::str::from_utf8(&s[..e.valid_up_to()]))
            .map_err(|_| ())?;
        let ch = text.chars().next().ok_or(())?;
        return Ok((ch as u32, true, &s[ch.len_utf8()..]));
    }
    if c != b'\\' {
        return Ok((u32::from(c), false, &s[1..]));
    }
    let Some(&e) = s.get(1) else { return Err(()) };
    let rest = &s[2..];
    let simple = |v: u8| Ok((u32::from(v), false, rest));
    match e {
        b'a' => simple(7),
        b'b' => simple(8),
        b'f' => simple(12),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(11),
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            if rest.len() < n {
                return Err(());
            }
            let mut v: u32 = 0;
            for &h in &rest[..n] {
                let d = (h as char).to_digit(16).ok_or(())?;
                v = (v << 4) | d;
            }
            if e == b'x' {
                return Ok((v, false, &rest[n..]));
            }
            if char::from_u32(v).is_none() {
                return Err(());
            }
            Ok((v, true, &rest[n..]))
        }
        b'0'..=b'7' => {
            if rest.len() < 2 {
                return Err(());
            }
            let mut v = u32::from(e - b'0');
            for &d in &rest[..2] {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(());
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            if v > 255 {
                return Err(());
            }
            Ok((v, false, &rest[2..]))
        }
        b'\\' => simple(b'\\'),
        b'\'' | b'"' => {
            if e != quote {
                return Err(());
            }
            simple(e)
        }
        _ => Err(()),
    }
}

/// `strconv.Unquote` for `"..."` and `` `...` `` literals. Go strings are bytes; invalid UTF-8 (from `\x`/octal
/// escapes) is replaced with U+FFFD.
pub(super) fn go_unquote(lit: &str) -> Result<String, String> {
    const SYNTAX: &str = "invalid syntax";
    let b = lit.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] {
        return Err(SYNTAX.into());
    }
    let inner = &lit[1..lit.len() - 1];
    match b[0] {
        b'`' => {
            if inner.contains('`') {
                return Err(SYNTAX.into());
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(SYNTAX.into());
            }
            let mut rest = inner.as_bytes();
            let mut out: Vec<u8> = Vec::with_capacity(rest.len());
            while !rest.is_empty() {
                let (v, multibyte, tail) =
                    unquote_char(rest, b'"').map_err(|_| SYNTAX.to_string())?;
                if v < 0x80 || !multibyte {
                    out.push(v as u8);
                } else {
                    let ch = char::from_u32(v).unwrap_or('\u{FFFD}');
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                rest = tail;
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err(SYNTAX.into()),
    }
}
