//! The lexer, ported from `text/template/parse/lex.go`: the token types ([`T`]), the items it emits ([`Item`], with
//! line numbers and byte positions for error locations), and the state machine that splits text and `{{ }}` actions,
//! honouring trim markers and comments and producing Go's lexer error texts.

use super::quote::{go_quote, go_sharp_u, is_go_print, truncate_runes};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum T {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    Str,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl T {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            T::Block
                | T::Break
                | T::Continue
                | T::Dot
                | T::Define
                | T::Else
                | T::End
                | T::If
                | T::Nil
                | T::Range
                | T::Template
                | T::With
        )
    }
}

fn keyword(word: &str) -> Option<T> {
    Some(match word {
        "." => T::Dot,
        "block" => T::Block,
        "break" => T::Break,
        "continue" => T::Continue,
        "define" => T::Define,
        "else" => T::Else,
        "end" => T::End,
        "if" => T::If,
        "range" => T::Range,
        "nil" => T::Nil,
        "template" => T::Template,
        "with" => T::With,
        _ => return None,
    })
}

#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) typ: T,
    pub(super) pos: usize,
    pub(super) val: String,
    pub(super) line: usize,
}

impl Item {
    /// Go's `item.String()`, used in "unexpected ..." errors.
    pub(super) fn describe(&self) -> String {
        match self.typ {
            T::Eof => "EOF".to_owned(),
            T::Error => self.val.clone(),
            t if t.is_keyword() => format!("<{}>", self.val),
            _ if self.val.len() > 10 => format!("{}...", go_quote(truncate_runes(&self.val, 10))),
            _ => go_quote(&self.val),
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn has_left_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(s[1] as char)
}

fn has_right_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && is_space(s[0] as char) && s[1] == b'-'
}

const SPACE_CHARS: [char; 4] = [' ', '\t', '\r', '\n'];

pub(super) fn count_newlines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

#[derive(Clone, Copy)]
enum St {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i64,
    line: usize,
    start_line: usize,
    inside_action: bool,
    item: Option<Item>,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            inside_action: false,
            item: None,
        }
    }

    fn next(&mut self) -> Option<char> {
        let Some(c) = self.input.get(self.pos..).and_then(|s| s.chars().next()) else {
            self.at_eof = true;
            return None;
        };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.next();
        self.backup();
        r
    }

    fn backup(&mut self) {
        if !self.at_eof && self.pos > 0 {
            if let Some(c) = self
                .input
                .get(..self.pos)
                .and_then(|s| s.chars().next_back())
            {
                self.pos -= c.len_utf8();
                if c == '\n' {
                    self.line -= 1;
                }
            }
        }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn this_item(&mut self, typ: T) -> Item {
        let item = Item {
            typ,
            pos: self.start,
            val: self
                .input
                .get(self.start..self.pos)
                .unwrap_or("")
                .to_owned(),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        item
    }

    fn emit(&mut self, typ: T) -> Option<St> {
        let item = self.this_item(typ);
        self.item = Some(item);
        None
    }

    fn ignore(&mut self) {
        self.line += count_newlines(self.input.get(self.start..self.pos).unwrap_or(""));
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.next() {
            if !valid.contains(c) {
                break;
            }
        }
        self.backup();
    }

    fn errorf(&mut self, msg: impl Into<String>) -> Option<St> {
        self.item = Some(Item {
            typ: T::Error,
            pos: self.start,
            val: msg.into(),
            line: self.start_line,
        });
        self.start = 0;
        self.pos = 0;
        self.input = "";
        None
    }

    fn next_item(&mut self) -> Item {
        self.item = Some(Item {
            typ: T::Eof,
            pos: self.pos,
            val: "EOF".to_owned(),
            line: self.start_line,
        });
        let mut st = if self.inside_action {
            St::InsideAction
        } else {
            St::Text
        };
        loop {
            let next = match st {
                St::Text => self.lex_text(),
                St::LeftDelim => self.lex_left_delim(),
                St::Comment => self.lex_comment(),
                St::RightDelim => self.lex_right_delim(),
                St::InsideAction => self.lex_inside_action(),
                St::Space => self.lex_space(),
                St::Identifier => self.lex_identifier(),
                St::Field => self.lex_field_or_variable(T::Field),
                St::Variable => self.lex_variable(),
                St::Char => self.lex_char(),
                St::Number => self.lex_number(),
                St::Quote => self.lex_quote(),
                St::RawQuote => self.lex_raw_quote(),
            };
            match next {
                Some(n) => st = n,
                None => {
                    return self.item.take().unwrap_or(Item {
                        typ: T::Eof,
                        pos: self.pos,
                        val: "EOF".to_owned(),
                        line: self.start_line,
                    })
                }
            }
        }
    }

    fn lex_text(&mut self) -> Option<St> {
        if let Some(x) = self.rest().find("{{") {
            if x > 0 {
                self.pos += x;
                let mut trim = 0;
                let delim_end = self.pos + 2;
                if has_left_trim_marker(self.input.as_bytes().get(delim_end..).unwrap_or(&[])) {
                    let text = &self.input[self.start..self.pos];
                    trim = text.len() - text.trim_end_matches(SPACE_CHARS).len();
                }
                self.pos -= trim;
                self.line += count_newlines(&self.input[self.start..self.pos]);
                let item = self.this_item(T::Text);
                self.pos += trim;
                self.ignore();
                if !item.val.is_empty() {
                    self.item = Some(item);
                    return None;
                }
            }
            return Some(St::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += count_newlines(&self.input[self.start..self.pos]);
            return self.emit(T::Text);
        }
        self.emit(T::Eof)
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest().as_bytes();
        if has_right_trim_marker(rest) && rest[2..].starts_with(b"}}") {
            return (true, true);
        }
        (rest.starts_with(b"}}"), false)
    }

    fn lex_left_delim(&mut self) -> Option<St> {
        self.pos += 2;
        let trim = has_left_trim_marker(self.rest().as_bytes());
        let after = if trim { 2 } else { 0 };
        if self
            .input
            .as_bytes()
            .get(self.pos + after..)
            .unwrap_or(&[])
            .starts_with(b"/*")
        {
            self.pos += after;
            self.ignore();
            return Some(St::Comment);
        }
        let item = self.this_item(T::LeftDelim);
        self.inside_action = true;
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        self.item = Some(item);
        None
    }

    fn lex_comment(&mut self) -> Option<St> {
        self.pos += 2;
        match self.rest().find("*/") {
            None => return self.errorf("unclosed comment"),
            Some(x) => self.pos += x + 2,
        }
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter");
        }
        self.line += count_newlines(&self.input[self.start..self.pos]);
        self.this_item(T::Text); // Comments are not emitted (Hive does not set ParseComments).
        if trim {
            self.pos += 2;
        }
        self.pos += 2;
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
        }
        self.ignore();
        Some(St::Text)
    }

    fn lex_right_delim(&mut self) -> Option<St> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += 2;
        let item = self.this_item(T::RightDelim);
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
            self.ignore();
        }
        self.inside_action = false;
        self.item = Some(item);
        None
    }

    fn lex_inside_action(&mut self) -> Option<St> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(St::RightDelim);
            }
            return self.errorf("unclosed left paren");
        }
        let Some(r) = self.next() else {
            return self.errorf("unclosed action");
        };
        match r {
            c if is_space(c) => {
                self.backup();
                Some(St::Space)
            }
            '=' => self.emit(T::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=");
                }
                self.emit(T::Declare)
            }
            '|' => self.emit(T::Pipe),
            '"' => Some(St::Quote),
            '`' => Some(St::RawQuote),
            '$' => Some(St::Variable),
            '\'' => Some(St::Char),
            '.' => {
                if let Some(&b) = self.input.as_bytes().get(self.pos) {
                    if !b.is_ascii_digit() {
                        return Some(St::Field);
                    }
                }
                self.backup();
                Some(St::Number)
            }
            '+' | '-' | '0'..='9' => {
                self.backup();
                Some(St::Number)
            }
            c if is_alnum(c) => {
                self.backup();
                Some(St::Identifier)
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(T::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren");
                }
                self.emit(T::RightParen)
            }
            c if c.is_ascii() && is_go_print(c) => self.emit(T::Char),
            c => self.errorf(format!(
                "unrecognized character in action: {}",
                go_sharp_u(c)
            )),
        }
    }

    fn lex_space(&mut self) -> Option<St> {
        let mut spaces = 0;
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            self.next();
            spaces += 1;
        }
        let b = self.input.as_bytes();
        if self.pos >= 1
            && has_right_trim_marker(&b[self.pos - 1..])
            && b.get(self.pos + 1..).unwrap_or(&[]).starts_with(b"}}")
        {
            self.backup();
            if spaces == 1 {
                return Some(St::RightDelim);
            }
        }
        self.emit(T::Space)
    }

    fn at_terminator(&mut self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with("}}"),
        }
    }

    fn lex_identifier(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some(c) if is_alnum(c) => {}
                r => {
                    self.backup();
                    if !self.at_terminator() {
                        let c = r.unwrap_or('\u{FFFD}');
                        return self.errorf(format!("bad character {}", go_sharp_u(c)));
                    }
                    let word = &self.input[self.start..self.pos];
                    let typ = match keyword(word) {
                        Some(k) => k,
                        None if word == "true" || word == "false" => T::Bool,
                        None => T::Identifier,
                    };
                    return self.emit(typ);
                }
            }
        }
    }

    fn lex_variable(&mut self) -> Option<St> {
        if self.at_terminator() {
            return self.emit(T::Variable);
        }
        self.lex_field_or_variable(T::Variable)
    }

    fn lex_field_or_variable(&mut self, typ: T) -> Option<St> {
        if self.at_terminator() {
            return self.emit(if typ == T::Variable {
                T::Variable
            } else {
                T::Dot
            });
        }
        let mut r;
        loop {
            r = self.next();
            match r {
                Some(c) if is_alnum(c) => {}
                _ => {
                    self.backup();
                    break;
                }
            }
        }
        if !self.at_terminator() {
            let c = r.unwrap_or('\u{FFFD}');
            return self.errorf(format!("bad character {}", go_sharp_u(c)));
        }
        self.emit(typ)
    }

    fn lex_char(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.errorf("unterminated character constant"),
                },
                None | Some('\n') => return self.errorf("unterminated character constant"),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(T::CharConstant)
    }

    fn lex_number(&mut self) -> Option<St> {
        if !self.scan_number() {
            let text = go_quote(&self.input[self.start..self.pos]);
            return self.errorf(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number()
                || self.input.as_bytes().get(self.pos.wrapping_sub(1)) != Some(&b'i')
            {
                let text = go_quote(&self.input[self.start..self.pos]);
                return self.errorf(format!("bad number syntax: {text}"));
            }
            return self.emit(T::Complex);
        }
        self.emit(T::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if matches!(self.peek(), Some(c) if is_alnum(c)) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.errorf("unterminated quoted string"),
                },
                None | Some('\n') => return self.errorf("unterminated quoted string"),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(T::Str)
    }

    fn lex_raw_quote(&mut self) -> Option<St> {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string"),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(T::RawString)
    }
}

/// Lexes everything up front. The last item is EOF or an error; `tail` is what Go's lexer would return after it.
pub(super) fn lex(input: &str) -> (Vec<Item>, Item) {
    let mut lexer = Lexer::new(input);
    let mut items = Vec::new();
    loop {
        let item = lexer.next_item();
        let done = matches!(item.typ, T::Eof | T::Error);
        items.push(item);
        if done {
            break;
        }
    }
    let tail = lexer.next_item();
    (items, tail)
}
