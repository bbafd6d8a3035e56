//! The parser, ported from `text/template/parse/parse.go`: turns the lexer's items into one tree per template
//! (`define` and `block` bodies are separate [`Trees`] entries), checks function names and variables at parse time,
//! enforces the nesting guard rail, and produces Go's `template: cdParams:L: ...` parse errors.

use std::collections::HashMap;
use std::fmt;

use super::lex::{lex, Item, T};
use super::node::{is_empty_tree, Arg, Branch, Command, Node, Pipe};
use super::number::new_number;
use super::quote::{go_quote, go_unquote};
use super::{MAX_NESTING, TEMPLATE_NAME};

pub(super) type Trees = HashMap<String, Vec<Node>>;

const FUNCTIONS: [&str; 20] = [
    "fromCDLabel",
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
];

/// What `textOrAction` produced: a node, or the `{{end}}`/`{{else}}` that terminates a list.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".to_owned(),
            Parsed::Else => "{{else}}".to_owned(),
        }
    }
}

/// Per-tree parser state (`define` and `block` bodies are parsed as separate trees).
struct TreeState {
    /// Line of the last token this tree pulled from the lexer (Go's `t.token[0].line`, used in errors).
    token0_line: usize,
    vars: Vec<String>,
    action_line: usize,
    range_depth: usize,
}

impl TreeState {
    fn new() -> Self {
        TreeState {
            token0_line: 0,
            vars: vec!["$".to_owned()],
            action_line: 0,
            range_depth: 0,
        }
    }
}

struct Parser {
    items: Vec<Item>,
    tail: Item,
    idx: usize,
    /// How many items have been pulled from the lexer so far.
    pulled: usize,
    st: TreeState,
    trees: Trees,
    depth: usize,
}

/// A parse error is Go's error text, which ends up verbatim in a status entry (see `TemplateError`).
type PResult<T> = Result<T, String>;

pub(super) fn parse(text: &str) -> PResult<Trees> {
    let (items, tail) = lex(text);
    let mut p = Parser {
        items,
        tail,
        idx: 0,
        pulled: 0,
        st: TreeState::new(),
        trees: HashMap::new(),
        depth: 0,
    };
    let root = p.parse_top()?;
    p.add(TEMPLATE_NAME.to_owned(), root)?;
    Ok(p.trees)
}

impl Parser {
    fn next(&mut self) -> Item {
        let item = match self.items.get(self.idx) {
            Some(item) => item.clone(),
            None => self.tail.clone(),
        };
        self.idx += 1;
        if self.idx > self.pulled {
            self.pulled = self.idx;
            self.st.token0_line = item.line;
        }
        item
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let item = self.next();
        self.backup();
        item
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let item = self.next();
            if item.typ != T::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let item = self.next_non_space();
        self.backup();
        item
    }

    fn errorf<R>(&self, msg: impl fmt::Display) -> PResult<R> {
        Err(format!(
            "template: {TEMPLATE_NAME}:{}: {msg}",
            self.st.token0_line
        ))
    }

    fn unexpected<R>(&self, token: &Item, context: &str) -> PResult<R> {
        if token.typ == T::Error {
            let mut extra = String::new();
            if self.st.action_line != 0 && self.st.action_line != token.line {
                extra = format!(
                    " in action started at {TEMPLATE_NAME}:{}",
                    self.st.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{}{extra}", token.val));
        }
        self.errorf(format!("unexpected {} in {context}", token.describe()))
    }

    fn expect(&mut self, expected: T, context: &str) -> PResult<Item> {
        let token = self.next_non_space();
        if token.typ != expected {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return self.errorf("max expression depth exceeded");
        }
        self.depth += 1;
        Ok(())
    }

    fn add(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        match self.trees.get(&name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&root) {
                    return self.errorf(format!(
                        "template: multiple definition of template {}",
                        go_quote(&name)
                    ));
                }
            }
            _ => {
                self.trees.insert(name, root);
            }
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        loop {
            let peeked = self.peek();
            if peeked.typ == T::Eof {
                return Ok(root);
            }
            if peeked.typ == T::LeftDelim {
                let delim_idx = self.idx;
                self.next();
                if self.next_non_space().typ == T::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = delim_idx;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return self.errorf(format!("unexpected {}", other.describe())),
            }
        }
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let parent = std::mem::replace(&mut self.st, TreeState::new());
        let result = self.parse_definition_body();
        self.st = parent;
        result
    }

    fn parse_definition_body(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if token.typ != T::Str && token.typ != T::RawString {
            return self.unexpected(&token, CONTEXT);
        }
        let name = match go_unquote(&token.val) {
            Ok(name) => name,
            Err(e) => return self.errorf(e),
        };
        self.expect(T::RightDelim, CONTEXT)?;
        self.enter()?;
        let (root, end) = self.item_list()?;
        self.depth -= 1;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
        }
        self.add(name, root)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != T::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        self.errorf("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            T::Text => Ok(Parsed::Node(Node::Text {
                pos: token.pos,
                text: token.val,
            })),
            T::LeftDelim => {
                self.st.action_line = token.line;
                let result = self.action();
                self.st.action_line = 0;
                result
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        let node = match token.typ {
            T::Block => self.block_control()?,
            T::Break | T::Continue => {
                let what = if token.typ == T::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let next = self.next_non_space();
                if next.typ != T::RightDelim {
                    return self.unexpected(&next, what);
                }
                if self.st.range_depth == 0 {
                    return self.errorf(format!("{what} outside {{{{range}}}}"));
                }
                if token.typ == T::Break {
                    Node::Break { pos: token.pos }
                } else {
                    Node::Continue { pos: token.pos }
                }
            }
            T::Else => {
                let peeked = self.peek_non_space();
                if peeked.typ != T::If && peeked.typ != T::With {
                    self.expect(T::RightDelim, "else")?;
                }
                return Ok(Parsed::Else);
            }
            T::End => {
                self.expect(T::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            T::If => Node::If(Box::new(self.parse_control("if")?)),
            T::Range => Node::Range(Box::new(self.parse_control("range")?)),
            T::With => Node::With(Box::new(self.parse_control("with")?)),
            T::Template => self.template_control()?,
            _ => {
                self.backup();
                let first = self.peek();
                let pipe = self.pipeline("command", T::RightDelim)?;
                Node::Action {
                    pos: first.pos,
                    pipe,
                }
            }
        };
        Ok(Parsed::Node(node))
    }

    fn pipeline(&mut self, context: &str, end: T) -> PResult<Pipe> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            pos: first.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != T::Variable {
                break;
            }
            let v_idx = self.idx;
            self.next();
            self.peek();
            let next = self.peek_non_space();
            if next.typ == T::Assign || next.typ == T::Declare {
                pipe.is_assign = next.typ == T::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.st.vars.push(v.val);
            } else if next.typ == T::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.st.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        T::Variable | T::RightDelim | T::RightParen => continue,
                        _ => return self.errorf("range can only initialize variables"),
                    }
                }
                return self.errorf(format!("too many declarations in {context}"));
            } else {
                self.idx = v_idx;
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                T::Bool
                | T::CharConstant
                | T::Complex
                | T::Dot
                | T::Field
                | T::Identifier
                | T::Number
                | T::Nil
                | T::RawString
                | T::Str
                | T::Variable
                | T::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number { .. }
                        | Arg::Str { .. }
                )
            ) {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let nvars = self.st.vars.len();
        let result = self.parse_control_body(context);
        self.st.vars.truncate(nvars);
        self.depth -= 1;
        result
    }

    fn parse_control_body(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, T::RightDelim)?;
        if context == "range" {
            self.st.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.st.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else = next {
            if context == "if" && self.peek().typ == T::If {
                self.next();
                else_list = Some(vec![Node::If(Box::new(self.parse_control("if")?))]);
            } else if context == "with" && self.peek().typ == T::With {
                self.next();
                else_list = Some(vec![Node::With(Box::new(self.parse_control("with")?))]);
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return self.errorf(format!("expected end; found {}", next.describe()));
                }
                else_list = Some(list);
            }
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            T::Str | T::RawString => match go_unquote(&token.val) {
                Ok(name) => Ok(name),
                Err(e) => self.errorf(e),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, T::RightDelim)?;
        self.enter()?;
        let parent = std::mem::replace(&mut self.st, TreeState::new());
        let body = self.item_list();
        let child = std::mem::replace(&mut self.st, parent);
        self.depth -= 1;
        let (root, end) = body?;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
        }
        let parent = std::mem::replace(&mut self.st, child);
        let added = self.add(name.clone(), root);
        self.st = parent;
        added?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != T::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, T::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                args.push(operand);
            }
            let token = self.next();
            match token.typ {
                T::Space => continue,
                T::RightDelim | T::RightParen => self.backup(),
                T::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.errorf("empty command");
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != T::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == T::Field {
            let field = self.next().val;
            fields.push(field.get(1..).unwrap_or("").to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(fields);
                Arg::Field { pos, ident }
            }
            Arg::Variable { mut ident, .. } => {
                ident.extend(fields);
                Arg::Variable { pos, ident }
            }
            Arg::Bool { .. }
            | Arg::Str { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.errorf(format!(
                    "unexpected . after term {}",
                    go_quote(&node.to_string())
                ));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                field: fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            T::Identifier => {
                if !FUNCTIONS.contains(&token.val.as_str()) {
                    return self.errorf(format!("function {} not defined", go_quote(&token.val)));
                }
                Arg::Identifier {
                    pos,
                    name: token.val,
                }
            }
            T::Dot => Arg::Dot { pos },
            T::Nil => Arg::Nil { pos },
            T::Variable => {
                if !self.st.vars.contains(&token.val) {
                    return self.errorf(format!("undefined variable {}", go_quote(&token.val)));
                }
                Arg::Variable {
                    pos,
                    ident: vec![token.val],
                }
            }
            T::Field => Arg::Field {
                pos,
                ident: vec![token.val.get(1..).unwrap_or("").to_owned()],
            },
            T::Bool => Arg::Bool {
                pos,
                val: token.val == "true",
            },
            T::CharConstant | T::Complex | T::Number => match new_number(&token.val, token.typ) {
                Ok(num) => Arg::Number { pos, num },
                Err(e) => return self.errorf(e),
            },
            T::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", T::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            T::Str | T::RawString => match go_unquote(&token.val) {
                Ok(text) => Arg::Str {
                    pos,
                    quoted: token.val,
                    text: text.into(),
                },
                Err(e) => return self.errorf(e),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}
