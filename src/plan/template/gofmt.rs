//! Go's `fmt` as `print`, `println` and `printf` need it, ported from `fmt/print.go` and `fmt/format.go` (verbs,
//! flags, width, precision, `[n]` argument indexes and the `%!v(MISSING)`-style error markers), with float
//! formatting from `strconv/ftoa.go` (`strconv.FormatFloat`).
//!
//! Every call gets a byte limit (the smaller of `MAX_OUTPUT` and what is left of the render budget) and fails with
//! [`Overflow`] rather than pass it. Work that widths and precisions drive is checked against the limit *before* it is
//! done: padding, zero-filled precisions (`%.9999999d`, `%.9999999U`), `%x` of a long string, quoting; the digits a
//! float precision makes Rust compute count as scratch bytes against the same limit even when the printed result is
//! short (`%.9999g` prints `1`). So one call costs time and memory linear in its limit, and a failed call stops at
//! once instead of formatting the rest of its format string.

use std::rc::Rc;

use super::funcs::{type_name, Val};
use super::quote::{
    can_backquote, go_quote_rune, go_quote_with, is_go_print, truncate_runes, LOWER_HEX,
};

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

/// Decimal digits of a float: `0.d1d2...dn × 10^dp`, no trailing zeros (zero has no digits and dp 0).
struct Decimal {
    d: Vec<u8>,
    dp: i64,
}

/// Parses Rust's `{:e}` output (`d.ddde±x`) into a [`Decimal`].
fn decimal_from_exp(s: &str) -> Decimal {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Decimal { d, dp: 0 };
    }
    Decimal { d, dp: exp + 1 }
}

/// Parses Rust's `{:.N}` output (`123.4560`) into a [`Decimal`].
fn decimal_from_fixed(s: &str) -> Decimal {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut d: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let mut dp = int.len() as i64;
    let leading = d.iter().take_while(|&&c| c == b'0').count();
    d.drain(..leading);
    dp -= leading as i64;
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Decimal { d, dp: 0 };
    }
    Decimal { d, dp }
}

fn fmt_e(out: &mut String, neg: bool, d: &Decimal, prec: i64, fmt: char) {
    if neg {
        out.push('-');
    }
    out.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        let nd = d.d.len() as i64;
        let m = nd.min(prec + 1);
        let mut i = 1;
        while i < m {
            out.push(d.d[i as usize] as char);
            i += 1;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(fmt);
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    push_exponent(out, exp);
}

/// Go's exponent: a sign, then at least two digits (`e+05`, `p-12`).
fn push_exponent(out: &mut String, exp: i64) {
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, neg: bool, d: &Decimal, prec: i64) {
    if neg {
        out.push('-');
    }
    let nd = d.d.len() as i64;
    if d.dp > 0 {
        let m = nd.min(d.dp);
        out.extend(d.d[..m as usize].iter().map(|&c| c as char));
        for _ in m..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            out.push(if (0..nd).contains(&j) {
                d.d[j as usize] as char
            } else {
                '0'
            });
        }
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`.
pub(super) fn go_format_float(v: f64, fmt: char, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    if fmt == 'b' || fmt == 'x' || fmt == 'X' {
        let mut exp = ((bits >> 52) & 0x7FF) as i64;
        let mut mant = bits & ((1 << 52) - 1);
        if exp == 0 {
            exp += 1;
        } else {
            mant |= 1 << 52;
        }
        exp -= 1023;
        return if fmt == 'b' {
            go_fmt_b(neg, mant, exp)
        } else {
            go_fmt_x(prec, fmt, neg, mant, exp)
        };
    }
    let a = v.abs();
    let mut out = String::new();
    let upper_e = if fmt == 'E' || fmt == 'G' { 'E' } else { 'e' };
    if prec < 0 {
        let d = decimal_from_exp(&format!("{a:e}"));
        let nd = d.d.len() as i64;
        match fmt {
            'e' | 'E' => fmt_e(&mut out, neg, &d, (nd - 1).max(0), upper_e),
            'f' => fmt_f(&mut out, neg, &d, (nd - d.dp).max(0)),
            _ => {
                let exp = d.dp - 1;
                if !(-4..6).contains(&exp) {
                    fmt_e(&mut out, neg, &d, nd - 1, upper_e);
                } else {
                    fmt_f(&mut out, neg, &d, (nd - d.dp).max(0));
                }
            }
        }
        return out;
    }
    let prec = prec.min(10_000);
    match fmt {
        'e' | 'E' => {
            let d = decimal_from_exp(&format!("{a:.*e}", prec as usize));
            fmt_e(&mut out, neg, &d, prec, upper_e);
        }
        'f' => {
            let d = decimal_from_fixed(&format!("{a:.*}", prec as usize));
            fmt_f(&mut out, neg, &d, prec);
        }
        _ => {
            let mut prec = if prec == 0 { 1 } else { prec };
            let d = decimal_from_exp(&format!("{a:.*e}", (prec - 1) as usize));
            let nd = d.d.len() as i64;
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(&mut out, neg, &d, prec - 1, upper_e);
            } else {
                if prec > d.dp {
                    prec = nd;
                }
                fmt_f(&mut out, neg, &d, (prec - d.dp).max(0));
            }
        }
    }
    out
}

fn go_fmt_b(neg: bool, mant: u64, exp: i64) -> String {
    let exp = exp - 52;
    format!(
        "{}{mant}p{}{exp}",
        if neg { "-" } else { "" },
        if exp >= 0 { "+" } else { "" }
    )
}

fn go_fmt_x(prec: i64, fmt: char, neg: bool, mut mant: u64, mut exp: i64) -> String {
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == 'X' {
        b"0123456789ABCDEF"
    } else {
        LOWER_HEX
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push('0');
    out.push(fmt);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec.min(10_000) {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if fmt == 'X' { 'P' } else { 'p' });
    push_exponent(&mut out, exp);
    out
}

#[derive(Clone, Copy, Default)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: i64,
    prec: i64,
}

/// A formatting call would have passed its byte limit.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Overflow;

/// A formatted string and what it cost: its length plus the scratch bytes spent on float digits.
#[derive(Debug)]
pub(super) struct Formatted {
    pub(super) text: Rc<str>,
    pub(super) cost: usize,
}

/// Go's `fmt.pp`: formats values into a buffer, refusing to let the buffer plus scratch work pass `limit`.
struct Printer {
    buf: String,
    f: Flags,
    limit: usize,
    /// Bytes of work that are not output (float digits computed for a precision).
    scratch: usize,
    overflow: bool,
}

impl Printer {
    fn new(limit: usize) -> Self {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            limit,
            scratch: 0,
            overflow: false,
        }
    }

    /// Whether `n` more bytes fit; if not the call has overflowed. Checked before building anything of size `n`.
    fn fits(&mut self, n: usize) -> bool {
        let used = self.buf.len().saturating_add(self.scratch);
        if self.overflow || used.saturating_add(n) > self.limit {
            self.overflow = true;
            return false;
        }
        true
    }

    /// Counts `n` bytes of scratch work, if they fit.
    fn spend_scratch(&mut self, n: usize) -> bool {
        if !self.fits(n) {
            return false;
        }
        self.scratch += n;
        true
    }

    fn write(&mut self, s: &str) {
        if self.fits(s.len()) {
            self.buf.push_str(s);
        }
    }

    fn write_char(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        self.write(c.encode_utf8(&mut tmp));
    }

    fn finish(self) -> Result<Formatted, Overflow> {
        if self.overflow {
            return Err(Overflow);
        }
        Ok(Formatted {
            cost: self.buf.len() + self.scratch,
            text: self.buf.into(),
        })
    }

    fn write_padding(&mut self, n: i64) {
        if n <= 0 {
            return;
        }
        if !self.fits(usize::try_from(n).unwrap_or(usize::MAX)) {
            return;
        }
        let pad = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(pad, n as usize));
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.write(s);
            return;
        }
        let width = self.f.wid - s.chars().count() as i64;
        if !self.f.minus {
            self.write_padding(width);
            self.write(s);
        } else {
            self.write(s);
            self.write_padding(width);
        }
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec: i64 = 4;
        if self.f.prec_present && self.f.prec > 4 {
            prec = self.f.prec;
        }
        // Zero-fill once, after checking the size: inserting at the front digit by digit was quadratic.
        let digits = format!("{u:X}");
        let zeros = usize::try_from(prec)
            .unwrap_or(0)
            .saturating_sub(digits.len());
        if !self.fits(2 + zeros + digits.len()) {
            return;
        }
        let mut out = String::with_capacity(2 + zeros + digits.len());
        out.push_str("U+");
        out.extend(std::iter::repeat_n('0', zeros));
        out.push_str(&digits);
        if self.f.sharp {
            if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32) {
                if is_go_print(c) {
                    out.push_str(&format!(" '{c}'"));
                }
            }
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&out);
        self.f.zero = old;
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { u.wrapping_neg() } else { u };
        let mut prec: i64 = 0;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec -= 1;
            }
        }
        // The zero-filled precision is output: check it fits before filling.
        if prec > 0 && !self.fits(usize::try_from(prec).unwrap_or(usize::MAX)) {
            return;
        }
        let mut buf: Vec<u8> = Vec::new();
        while u >= base {
            buf.push(digits[(u % base) as usize]);
            u /= base;
        }
        buf.push(digits[u as usize]);
        while (buf.len() as i64) < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8_lossy(&buf).into_owned();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            return truncate_runes(s, self.f.prec.max(0) as usize);
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let b = s.as_bytes();
        let mut length = b.len() as i64;
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        // The hex text is `width` bytes: check before building it from a long string.
        if !self.fits(usize::try_from(width).unwrap_or(usize::MAX)) {
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let mut out = String::with_capacity(width as usize);
        if self.f.sharp {
            out.push('0');
            out.push(digits[16] as char);
        }
        for (i, &c) in b.iter().take(length as usize).enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(digits[16] as char);
                }
            }
            out.push(digits[(c >> 4) as usize] as char);
            out.push(digits[(c & 0xF) as usize] as char);
        }
        self.write(&out);
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        // A quoted string is at least its length plus the quotes (and at most ten times that).
        if !self.fits(s.len() + 2) {
            return;
        }
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let quoted = go_quote_with(s, self.f.plus);
        self.pad(&quoted);
    }

    fn rune_of(c: u64) -> char {
        u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
    }

    fn fmt_c(&mut self, c: u64) {
        let r = Self::rune_of(c);
        self.pad(&r.to_string());
    }

    fn fmt_qc(&mut self, c: u64) {
        let r = Self::rune_of(c);
        let quoted = go_quote_rune(r, self.f.plus);
        self.pad(&quoted);
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: i64) {
        let prec = if self.f.prec_present {
            self.f.prec
        } else {
            prec
        };
        // Rust computes `prec` digits (capped at 10 000 in go_format_float) whatever is printed: scratch work.
        if prec > 0 && !self.spend_scratch(prec.min(10_000) as usize) {
            return;
        }
        let s = go_format_float(v, verb, prec);
        let mut num: Vec<u8> = if s.starts_with(['-', '+']) {
            s.into_bytes()
        } else {
            [b"+", s.as_bytes()].concat()
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1).is_some_and(|&c| c == b'I' || c == b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = if prec == -1 { 6 } else { prec };
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_dot = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_dot = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_dot {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            // `%#.9999999g` asks for that many trailing zeros: check they fit before adding them.
            if digits > 0 && !self.fits(usize::try_from(digits).unwrap_or(usize::MAX)) {
                return;
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let num = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() as i64 {
                self.write(&num[..1]);
                self.write_padding(self.f.wid - num.len() as i64);
                self.write(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn bad_verb(&mut self, arg: &Val, verb: char) {
        self.write("%!");
        self.write_char(verb);
        self.write("(");
        if *arg == Val::Invalid {
            self.write("<nil>");
        } else {
            self.write(type_name(arg));
            self.write("=");
            self.print_arg(arg, 'v');
        }
        self.write(")");
    }

    /// `printArg`; [`Val::Invalid`] is a nil interface here.
    fn print_arg(&mut self, arg: &Val, verb: char) {
        if *arg == Val::Invalid {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(arg, verb),
            }
            return;
        }
        match verb {
            'T' => {
                self.fmt_s(type_name(arg));
                return;
            }
            'p' => {
                self.bad_verb(arg, verb);
                return;
            }
            _ => {}
        }
        match arg {
            Val::Bool(b) => match verb {
                't' | 'v' => self.fmt_boolean(*b),
                _ => self.bad_verb(arg, verb),
            },
            Val::Float(v) => match verb {
                'v' => self.fmt_float(*v, 'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*v, verb, -1),
                'f' | 'e' | 'E' => self.fmt_float(*v, verb, 6),
                'F' => self.fmt_float(*v, 'f', 6),
                _ => self.bad_verb(arg, verb),
            },
            Val::Int(i) => self.fmt_integer_verb(arg, *i as u64, true, verb),
            Val::Uint8(u) => self.fmt_integer_verb(arg, u64::from(*u), false, verb),
            Val::Str(s) => match verb {
                'v' if self.f.sharp_v => self.fmt_q(s),
                'v' | 's' => self.fmt_s(s),
                'x' => self.fmt_sx(s, LDIGITS),
                'X' => self.fmt_sx(s, UDIGITS),
                'q' => self.fmt_q(s),
                _ => self.bad_verb(arg, verb),
            },
            Val::Invalid => {}
        }
    }

    fn fmt_integer_verb(&mut self, arg: &Val, v: u64, signed: bool, verb: char) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_integer(v, 16, false, 'v', LDIGITS);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_integer(v, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(v, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(v, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(v, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(v, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(arg, verb),
        }
    }
}

fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// `parsenum`: a decimal number in `s[start..end]`.
fn parse_num(s: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut isnum, mut i) = (0i64, false, start);
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

fn int_from_arg(args: &[Val], arg_num: usize) -> (i64, bool, usize) {
    let Some(arg) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (num, is_int) = match arg {
        Val::Int(i) => (*i, true),
        Val::Uint8(u) => (i64::from(*u), true),
        _ => (0, false),
    };
    if too_large(num) {
        return (0, false, arg_num + 1);
    }
    (num, is_int, arg_num + 1)
}

/// The first `]` at or after `from`. Go rescans the rest of the format from every `[`, which is quadratic in a
/// format full of unclosed `[`; `last` remembers the previous answer (`from` only grows), so the scans never overlap.
fn next_close(s: &[u8], from: usize, last: &mut Option<(usize, Option<usize>)>) -> Option<usize> {
    if let Some((prev_from, found)) = *last {
        if prev_from <= from {
            match found {
                None => return None,
                Some(at) if at >= from => return Some(at),
                Some(_) => {}
            }
        }
    }
    let found = s
        .get(from..)
        .and_then(|rest| rest.iter().position(|&c| c == b']'))
        .map(|at| from + at);
    *last = Some((from, found));
    found
}

/// Go's `fmt.Sprintf` within `limit` bytes. Arguments are `any`: [`Val::Invalid`] is nil.
pub(super) fn go_sprintf(format: &str, args: &[Val], limit: usize) -> Result<Formatted, Overflow> {
    let mut p = Printer::new(limit);
    let s = format.as_bytes();
    let end = s.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    let mut last_close = None;

    // `argNumber`: an optional `[n]` argument index at s[i..].
    let mut arg_number =
        |arg_num: usize, i: usize, good: &mut bool, reordered: &mut bool| -> (usize, usize, bool) {
            if i >= end || s[i] != b'[' {
                return (arg_num, i, false);
            }
            *reordered = true;
            let f = &s[i..];
            let (index, wid, ok) = 'parse: {
                if f.len() < 3 {
                    break 'parse (0i64, 1usize, false);
                }
                if let Some(close) = next_close(s, i + 1, &mut last_close) {
                    let j = close - i;
                    let (width, ok, newi) = parse_num(f, 1, j);
                    if !ok || newi != j {
                        break 'parse (0, j + 1, false);
                    }
                    break 'parse (width - 1, j + 1, true);
                }
                (0, 1, false)
            };
            if ok && index >= 0 && (index as usize) < args.len() {
                return (index as usize, i + wid, true);
            }
            *good = false;
            (arg_num, i + wid, ok)
        };

    // Past the limit the result is an error whatever follows: stop formatting.
    'format: while i < end && !p.overflow {
        let mut good_arg_num = true;
        let last = i;
        while i < end && s[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.write(format.get(last..i).unwrap_or(""));
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            let c = s[i];
            match c {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = true,
                b'+' => p.f.plus = true,
                b'-' => p.f.minus = true,
                b' ' => p.f.space = true,
                _ => {
                    if c.is_ascii_lowercase() && arg_num < args.len() {
                        if c == b'v' || c == b'w' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        let arg = args[arg_num].clone();
                        p.print_arg(&arg, c as char);
                        arg_num += 1;
                        i += 1;
                        continue 'format;
                    }
                    break;
                }
            }
            i += 1;
        }

        let mut after_index;
        (arg_num, i, after_index) = arg_number(arg_num, i, &mut good_arg_num, &mut reordered);

        if i < end && s[i] == b'*' {
            i += 1;
            let (wid, present, next) = int_from_arg(args, arg_num);
            (p.f.wid, p.f.wid_present, arg_num) = (wid, present, next);
            if !p.f.wid_present {
                p.write("%!(BADWIDTH)");
            }
            if p.f.wid < 0 {
                p.f.wid = -p.f.wid;
                p.f.minus = true;
                p.f.zero = false;
            }
            after_index = false;
        } else {
            let (wid, present, next) = parse_num(s, i, end);
            (p.f.wid, p.f.wid_present, i) = (wid, present, next);
            if after_index && p.f.wid_present {
                good_arg_num = false;
            }
        }

        if i + 1 < end && s[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(arg_num, i, &mut good_arg_num, &mut reordered);
            if i < end && s[i] == b'*' {
                i += 1;
                let (prec, present, next) = int_from_arg(args, arg_num);
                (p.f.prec, p.f.prec_present, arg_num) = (prec, present, next);
                if p.f.prec < 0 {
                    p.f.prec = 0;
                    p.f.prec_present = false;
                }
                if !p.f.prec_present {
                    p.write("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (prec, present, next) = parse_num(s, i, end);
                (p.f.prec, p.f.prec_present, i) = (prec, present, next);
                if !p.f.prec_present {
                    p.f.prec = 0;
                    p.f.prec_present = true;
                }
            }
        }

        if !after_index {
            (arg_num, i, _) = arg_number(arg_num, i, &mut good_arg_num, &mut reordered);
        }

        if i >= end {
            p.write("%!(NOVERB)");
            break;
        }
        let verb = format
            .get(i..)
            .and_then(|r| r.chars().next())
            .unwrap_or('\u{FFFD}');
        i += if format.is_char_boundary(i) {
            verb.len_utf8()
        } else {
            1
        };

        if verb == '%' {
            p.write("%");
        } else if !good_arg_num {
            p.write("%!");
            p.write_char(verb);
            p.write("(BADINDEX)");
        } else if arg_num >= args.len() {
            p.write("%!");
            p.write_char(verb);
            p.write("(MISSING)");
        } else {
            if verb == 'v' || verb == 'w' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            let arg = args[arg_num].clone();
            p.print_arg(&arg, verb);
            arg_num += 1;
        }
    }

    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.write("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if p.overflow {
                break;
            }
            if k > 0 {
                p.write(", ");
            }
            if *arg == Val::Invalid {
                p.write("<nil>");
            } else {
                p.write(type_name(arg));
                p.write("=");
                p.print_arg(arg, 'v');
            }
        }
        p.write(")");
    }
    p.finish()
}

/// Go's `fmt.Sprint` (`newline == false`) and `fmt.Sprintln`, within `limit` bytes.
pub(super) fn go_sprint(args: &[Val], newline: bool, limit: usize) -> Result<Formatted, Overflow> {
    let mut p = Printer::new(limit);
    let mut prev_string = false;
    for (k, arg) in args.iter().enumerate() {
        if p.overflow {
            break;
        }
        let is_string = matches!(arg, Val::Str(_));
        if k > 0 && (newline || (!is_string && !prev_string)) {
            p.write(" ");
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    if newline {
        p.write("\n");
    }
    p.finish()
}
