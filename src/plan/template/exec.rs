//! Execution, ported from `text/template/exec.go`: walks the parsed trees with nil data, evaluates pipelines,
//! variables, control structures, `template` calls and function calls (reading `fromCDLabel` values from the
//! per-call labels), enforces the per-string step, depth and output guard rails and spends the syncset's
//! [`Budget`], and formats Go's `template: cdParams:L:C: executing "cdParams" at <...>: ...` errors.
//!
//! Costs: every walked node, command, evaluated argument and `range` iteration is a step; reading string bytes
//! (builtin arguments, variable and template names) costs a step per `BYTES_PER_STEP`; written output and the
//! strings builtins return cost output bytes. Strings are shared (`Rc<str>`), so moving one around costs nothing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;

use super::funcs::{
    builtin_eq, builtin_index, builtin_le, builtin_lt, builtin_slice, eval_args, html_escape,
    js_escape, print_plain, truth, type_name, url_query_escape, Func, Param, Val,
};
use super::gofmt::{go_sprint, go_sprintf, Formatted, Overflow};
use super::lex::count_newlines;
use super::node::{Arg, Branch, Command, Node, Number, Pipe};
use super::parse::Trees;
use super::quote::go_quote;
use super::{Budget, BYTES_PER_STEP, MAX_EXEC_DEPTH, MAX_OUTPUT, MAX_STEPS, TEMPLATE_NAME};

/// The node Go's `state.at` points to, for error locations and contexts.
#[derive(Clone, Copy)]
enum At<'t> {
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// Control flow out of `walk` (Go panics with `walkBreak`/`walkContinue`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// An execution error is Go's error text, which ends up verbatim in a status entry (see `TemplateError`).
type EResult<T> = Result<T, String>;

/// The variable stack (Go's `state.vars`), innermost last. Go finds a variable by scanning the stack from the top;
/// `slots` indexes the positions of each name instead, so a template that declares 100k variables cannot make every
/// lookup cost 100k comparisons.
struct Vars {
    stack: Vec<(Rc<str>, Val)>,
    slots: HashMap<Rc<str>, Vec<usize>>,
}

impl Vars {
    /// A fresh stack holding `$`.
    fn new(dollar: Val) -> Self {
        let mut vars = Vars {
            stack: Vec::new(),
            slots: HashMap::new(),
        };
        vars.push("$", dollar);
        vars
    }

    fn len(&self) -> usize {
        self.stack.len()
    }

    fn push(&mut self, name: &str, value: Val) {
        let name: Rc<str> = match self.slots.get_key_value(name) {
            Some((shared, _)) => shared.clone(),
            None => name.into(),
        };
        self.slots
            .entry(name.clone())
            .or_default()
            .push(self.stack.len());
        self.stack.push((name, value));
    }

    /// Drops the variables declared after `mark` (amortised: each push is popped at most once).
    fn truncate(&mut self, mark: usize) {
        while self.stack.len() > mark {
            let Some((name, _)) = self.stack.pop() else {
                break;
            };
            if let Some(positions) = self.slots.get_mut(&name) {
                positions.pop();
                if positions.is_empty() {
                    self.slots.remove(&name);
                }
            }
        }
    }

    /// The innermost variable of that name.
    fn get_mut(&mut self, name: &str) -> Option<&mut Val> {
        let i = *self.slots.get(name)?.last()?;
        self.stack.get_mut(i).map(|(_, v)| v)
    }

    /// Go's `setTopVar`: the `n`th variable from the top.
    fn set_top(&mut self, n: usize, value: Val) {
        if let Some(i) = self.stack.len().checked_sub(n) {
            self.stack[i].1 = value;
        }
    }
}

/// Steps to charge for reading `bytes` bytes of string.
fn read_steps(bytes: usize) -> u64 {
    (bytes / BYTES_PER_STEP) as u64
}

struct Exec<'t, 'c> {
    text: &'t str,
    trees: &'t Trees,
    labels: &'c BTreeMap<String, String>,
    budget: &'c mut Budget,
    name: &'t str,
    at: Option<At<'t>>,
    vars: Vars,
    out: String,
    depth: usize,
    steps: u64,
}

pub(super) fn execute(
    text: &str,
    trees: &Trees,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> EResult<String> {
    let Some((name, root)) = trees.get_key_value(TEMPLATE_NAME) else {
        return Err(format!(
            "template: {TEMPLATE_NAME}: \"{TEMPLATE_NAME}\" is an incomplete or empty template"
        ));
    };
    let mut exec = Exec {
        text,
        trees,
        labels,
        budget,
        name,
        at: None,
        vars: Vars::new(Val::Invalid),
        out: String::new(),
        depth: 0,
        steps: 0,
    };
    exec.walk_list(&Val::Invalid, root)?;
    Ok(exec.out)
}

impl<'t> Exec<'t, '_> {
    fn errorf<R>(&self, msg: impl fmt::Display) -> EResult<R> {
        let Some(at) = self.at else {
            return Err(format!("template: {}: {msg}", self.name));
        };
        let pos = at.pos().min(self.text.len());
        let before = self.text.get(..pos).unwrap_or("");
        let col = match before.rfind('\n') {
            Some(nl) => pos - (nl + 1),
            None => pos,
        };
        let line = 1 + count_newlines(before);
        Err(format!(
            "template: {TEMPLATE_NAME}:{line}:{col}: executing {} at <{}>: {msg}",
            go_quote(self.name),
            at.context()
        ))
    }

    fn tick(&mut self) -> EResult<()> {
        self.spend(1)
    }

    /// Spends `n` steps of this string's cap and of the syncset's budget.
    fn spend(&mut self, n: u64) -> EResult<()> {
        if n == 0 {
            return Ok(());
        }
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            return self.errorf(format!("template execution exceeds {MAX_STEPS} steps"));
        }
        if let Err(msg) = self.budget.take_steps(n) {
            return self.errorf(msg);
        }
        Ok(())
    }

    /// Charges the steps for hashing or comparing a name of this length.
    fn spend_name(&mut self, name: &str) -> EResult<()> {
        self.spend(read_steps(name.len()))
    }

    fn write(&mut self, s: &str) -> EResult<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return self.errorf(format!("template output exceeds {MAX_OUTPUT} bytes"));
        }
        if let Err(msg) = self.budget.take_output(s.len()) {
            return self.errorf(msg);
        }
        self.out.push_str(s);
        Ok(())
    }

    /// Prints a value as an action does, without copying a string first.
    fn write_val(&mut self, val: &Val) -> EResult<()> {
        match val {
            Val::Str(s) => self.write(s),
            other => self.write(&print_plain(other)),
        }
    }

    fn walk_list(&mut self, dot: &Val, list: &'t [Node]) -> EResult<Flow> {
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Val, node: &'t Node) -> EResult<Flow> {
        self.at = Some(At::Node(node));
        self.tick()?;
        match node {
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, Some(pipe))?;
                if pipe.decl.is_empty() {
                    self.at = Some(At::Node(node));
                    self.write_val(&val)?;
                }
                Ok(Flow::Normal)
            }
            Node::Break { .. } => Ok(Flow::Break),
            Node::Continue { .. } => Ok(Flow::Continue),
            Node::If(b) => self.nested(true, |e| e.walk_if_or_with(false, dot, b)),
            Node::With(b) => self.nested(true, |e| e.walk_if_or_with(true, dot, b)),
            Node::Range(b) => self.nested(true, |e| e.walk_range(dot, node, b)),
            // Variables declared in a {{template}} pipeline persist, as in Go.
            Node::Template { name, pipe, .. } => {
                self.nested(false, |e| e.walk_template(dot, node, name, pipe.as_ref()))
            }
            Node::Text { text, .. } => {
                self.write(text)?;
                Ok(Flow::Normal)
            }
        }
    }

    /// Runs a control structure or template call one level deeper; `pop` drops the variables it declared.
    fn nested(&mut self, pop: bool, f: impl FnOnce(&mut Self) -> EResult<Flow>) -> EResult<Flow> {
        if self.depth >= MAX_EXEC_DEPTH {
            return self.errorf(format!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            ));
        }
        self.depth += 1;
        let mark = self.vars.len();
        let result = f(self);
        if pop {
            self.vars.truncate(mark);
        }
        self.depth -= 1;
        result
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val, b: &'t Branch) -> EResult<Flow> {
        let val = self.eval_pipeline(dot, Some(&b.pipe))?;
        if truth(&val) {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(Flow::Normal)
        }
    }

    fn walk_range(&mut self, dot: &Val, node: &'t Node, b: &'t Branch) -> EResult<Flow> {
        self.at = Some(At::Node(node));
        let val = self.eval_pipeline(dot, Some(&b.pipe))?;
        let mark = self.vars.len();
        let count = match &val {
            Val::Int(n) => Some(*n),
            Val::Uint8(n) => Some(i64::from(*n)),
            Val::Invalid => None,
            other => {
                return self.errorf(format!("range can't iterate over {}", print_plain(other)))
            }
        };
        if let Some(count) = count {
            if b.pipe.decl.len() > 1 {
                return self.errorf(format!(
                    "can't use {} to iterate over more than one variable",
                    print_plain(&val)
                ));
            }
            for i in 0..count.max(0) {
                self.tick()?;
                let elem = if matches!(val, Val::Uint8(_)) {
                    Val::Uint8(i as u8)
                } else {
                    Val::Int(i)
                };
                if let Some(first) = b.pipe.decl.first() {
                    if b.pipe.is_assign {
                        self.set_var(first, elem.clone())?;
                    } else {
                        self.vars.set_top(1, elem.clone());
                    }
                }
                let flow = self.walk_list(&elem, &b.list);
                self.vars.truncate(mark);
                if flow? == Flow::Break {
                    break;
                }
            }
            if count > 0 {
                return Ok(Flow::Normal);
            }
        }
        match &b.else_list {
            // Go's walkRange swallows a {{break}} from its else branch (it belongs to an outer range).
            Some(else_list) => match self.walk_list(dot, else_list)? {
                Flow::Break => Ok(Flow::Normal),
                flow => Ok(flow),
            },
            None => Ok(Flow::Normal),
        }
    }

    fn walk_template(
        &mut self,
        dot: &Val,
        node: &'t Node,
        name: &str,
        pipe: Option<&'t Pipe>,
    ) -> EResult<Flow> {
        self.at = Some(At::Node(node));
        self.spend_name(name)?;
        let Some((tree_name, root)) = self.trees.get_key_value(name) else {
            return self.errorf(format!("template {} not defined", go_quote(name)));
        };
        let dot = self.eval_pipeline(dot, pipe)?;
        let vars = std::mem::replace(&mut self.vars, Vars::new(dot.clone()));
        let caller = std::mem::replace(&mut self.name, tree_name);
        let result = self.walk_list(&dot, root);
        self.name = caller;
        self.vars = vars;
        result.map(|_| Flow::Normal)
    }

    fn eval_pipeline(&mut self, dot: &Val, pipe: Option<&'t Pipe>) -> EResult<Val> {
        let Some(pipe) = pipe else {
            return Ok(Val::Invalid);
        };
        self.at = Some(At::Pipe(pipe));
        let mut value: Option<Val> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Val::Invalid);
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var, value.clone())?;
            } else {
                self.spend_name(var)?;
                self.vars.push(var, value.clone());
            }
        }
        Ok(value)
    }

    fn set_var(&mut self, name: &str, value: Val) -> EResult<()> {
        self.spend_name(name)?;
        match self.vars.get_mut(name) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn var_value(&mut self, name: &str) -> EResult<Val> {
        self.spend_name(name)?;
        match self.vars.get_mut(name) {
            Some(v) => Ok(v.clone()),
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn not_a_function(&self, args: &[Arg], fallback: &Arg, final_val: &Option<Val>) -> EResult<()> {
        if args.len() > 1 || final_val.is_some() {
            let first = args.first().unwrap_or(fallback);
            return self.errorf(format!("can't give argument to non-function {first}"));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val,
        cmd: &'t Command,
        final_val: Option<Val>,
    ) -> EResult<Val> {
        self.tick()?;
        let Some(first) = cmd.args.first() else {
            return self.errorf("empty command");
        };
        match first {
            Arg::Field { ident, .. } => return self.eval_field_chain(first, dot.clone(), ident),
            Arg::Chain { .. } => return self.eval_chain_node(dot, first),
            Arg::Identifier { .. } => {
                return self.eval_function(dot, first, At::Cmd(cmd), &cmd.args, final_val)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, first, &final_val)?;
                return self.eval_pipeline(dot, Some(p));
            }
            Arg::Variable { .. } => return self.eval_variable_node(first, &cmd.args, &final_val),
            _ => {}
        }
        self.at = Some(At::Arg(first));
        self.not_a_function(&cmd.args, first, &final_val)?;
        match first {
            Arg::Bool { val, .. } => Ok(Val::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.errorf("nil is not a command"),
            Arg::Number { num, .. } => self.ideal_constant(first, num),
            Arg::Str { text, .. } => Ok(Val::Str(text.clone())),
            _ => self.errorf(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            )),
        }
    }

    fn ideal_constant(&mut self, node: &'t Arg, num: &Number) -> EResult<Val> {
        self.at = Some(At::Arg(node));
        let text = &num.text;
        let hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        let rune_int = text.starts_with('\'');
        if num.is_float && !hex_int && !rune_int && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Val::Float(num.float));
        }
        if num.is_int {
            return Ok(Val::Int(num.int));
        }
        if num.is_uint {
            return self.errorf(format!("{text} overflows int"));
        }
        Ok(Val::Invalid)
    }

    /// Fields of nil are nil (`<no value>`); fields of anything else (strings, numbers) are an error.
    fn eval_field_chain(&mut self, node: &'t Arg, receiver: Val, ident: &[String]) -> EResult<Val> {
        if matches!(node, Arg::Field { .. }) {
            self.at = Some(At::Arg(node));
        }
        // A chain of 100k `.a` fields is walked on every evaluation.
        self.spend(read_steps(ident.len()))?;
        for name in ident {
            if receiver == Val::Invalid {
                continue;
            }
            return self.errorf(format!(
                "can't evaluate field {name} in type {}",
                type_name(&receiver)
            ));
        }
        Ok(receiver)
    }

    fn eval_chain_node(&mut self, dot: &Val, chain: &'t Arg) -> EResult<Val> {
        self.at = Some(At::Arg(chain));
        let Arg::Chain { node, field, .. } = chain else {
            return Ok(Val::Invalid);
        };
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return self.errorf(format!("indirection through explicit nil in {chain}"));
        }
        let receiver = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(chain, receiver, field)
    }

    fn eval_variable_node(
        &mut self,
        var: &'t Arg,
        args: &[Arg],
        final_val: &Option<Val>,
    ) -> EResult<Val> {
        self.at = Some(At::Arg(var));
        let Arg::Variable { ident, .. } = var else {
            return Ok(Val::Invalid);
        };
        let value = self.var_value(&ident[0])?;
        if ident.len() == 1 {
            self.not_a_function(args, var, final_val)?;
            return Ok(value);
        }
        self.eval_field_chain(var, value, &ident[1..])
    }

    fn eval_function(
        &mut self,
        dot: &Val,
        ident: &'t Arg,
        cmd: At<'t>,
        args: &'t [Arg],
        final_val: Option<Val>,
    ) -> EResult<Val> {
        self.at = Some(At::Arg(ident));
        let Arg::Identifier { name, .. } = ident else {
            return Ok(Val::Invalid);
        };
        let Some(func) = Func::lookup(name) else {
            return self.errorf(format!("{} is not a defined function", go_quote(name)));
        };
        self.eval_call(
            dot,
            func,
            cmd,
            name,
            args.get(1..).unwrap_or(&[]),
            final_val,
        )
    }

    fn eval_call(
        &mut self,
        dot: &Val,
        func: Func,
        cmd: At<'t>,
        name: &str,
        args: &'t [Arg],
        final_val: Option<Val>,
    ) -> EResult<Val> {
        let (fixed, variadic) = func.signature();
        let num_in = args.len() + usize::from(final_val.is_some());
        let num_fixed = if variadic.is_some() {
            if num_in < fixed.len() {
                return self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    fixed.len(),
                    args.len()
                ));
            }
            fixed.len()
        } else {
            if num_in != fixed.len() {
                return self.errorf(format!(
                    "wrong number of args for {name}: want {} got {num_in}",
                    fixed.len()
                ));
            }
            args.len()
        };

        if func == Func::And || func == Func::Or {
            let mut v = Val::Invalid;
            for arg in args {
                v = self.eval_arg(dot, Some(Param::Value), arg)?;
                if truth(&v) == (func == Func::Or) {
                    return Ok(v);
                }
            }
            if let Some(f) = final_val {
                v = self.validate_type(f, Some(Param::Value))?;
            }
            return Ok(v);
        }

        let mut argv = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, fixed.get(i).copied(), &args[i])?);
            i += 1;
        }
        if let Some(elem) = variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, Some(elem), &args[i])?);
                i += 1;
            }
        }
        if let Some(f) = final_val.clone() {
            let typ = match variadic {
                Some(elem) if num_in > num_fixed => elem,
                _ => fixed.get(num_in - 1).copied().unwrap_or(Param::Any),
            };
            argv.push(self.validate_type(f, Some(typ))?);
        }

        let result = match func {
            Func::Call => {
                let callee = match args.first() {
                    Some(a) => a.to_string(),
                    None => match &final_val {
                        Some(Val::Str(s)) => s.to_string(),
                        Some(Val::Invalid) | None => "<invalid Value>".to_owned(),
                        Some(v) => format!("<{} Value>", type_name(v)),
                    },
                };
                match argv.first() {
                    None | Some(Val::Invalid) => Err("call of nil".to_owned()),
                    Some(v) => Err(format!("non-function {callee} of type {}", type_name(v))),
                }
            }
            _ => {
                // Charge what the builtin will read before it runs; running out is reported at the command, and
                // Go's position tracking (`state.at`) is otherwise left as the arguments set it.
                let at = self.at;
                self.at = Some(cmd);
                self.spend(read_steps(bytes_read(func, &argv)))?;
                self.at = at;
                self.call_builtin(func, &argv)
            }
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at = Some(cmd);
                self.errorf(format!("error calling {name}: {e}"))
            }
        }
    }

    /// Runs a builtin. Strings it returns are charged to the budget's output bytes; formatting gets a byte limit
    /// (the smaller of the per-call cap and what is left) so it fails before doing work past it.
    fn call_builtin(&mut self, func: Func, argv: &[Val]) -> Result<Val, String> {
        let arg = |i: usize| argv.get(i).cloned().unwrap_or(Val::Invalid);
        let str_arg = |i: usize| match argv.get(i) {
            Some(Val::Str(s)) => s.clone(),
            _ => Rc::from(""),
        };
        let rest = argv.get(1..).unwrap_or(&[]);
        Ok(match func {
            Func::FromCdLabel => {
                let value = self.labels.get(&*str_arg(0)).cloned().unwrap_or_default();
                self.budget.take_output(value.len())?;
                Val::Str(value.into())
            }
            Func::Printf => Val::Str(self.format(|limit| go_sprintf(&str_arg(0), rest, limit))?),
            Func::Print => Val::Str(self.format(|limit| go_sprint(argv, false, limit))?),
            Func::Println => Val::Str(self.format(|limit| go_sprint(argv, true, limit))?),
            Func::Html => Val::Str(self.escape(argv, html_escape)?),
            Func::Js => Val::Str(self.escape(argv, js_escape)?),
            Func::UrlQuery => Val::Str(self.escape(argv, url_query_escape)?),
            Func::Len => match arg(0) {
                Val::Str(s) => Val::Int(s.len() as i64),
                Val::Invalid => {
                    return Err("reflect: call of reflect.Value.Type on zero Value".into())
                }
                other => return Err(format!("len of type {}", type_name(&other))),
            },
            Func::Index => builtin_index(&arg(0), rest)?,
            Func::Slice => {
                let v = builtin_slice(&arg(0), rest)?;
                if let Val::Str(s) = &v {
                    self.budget.take_output(s.len())?;
                }
                v
            }
            Func::Not => Val::Bool(!truth(&arg(0))),
            Func::Eq => Val::Bool(builtin_eq(&arg(0), rest)?),
            Func::Ne => Val::Bool(!builtin_eq(&arg(0), std::slice::from_ref(&arg(1)))?),
            Func::Lt => Val::Bool(builtin_lt(&arg(0), &arg(1))?),
            Func::Le => Val::Bool(builtin_le(&arg(0), &arg(1))?),
            Func::Gt => Val::Bool(!builtin_le(&arg(0), &arg(1))?),
            Func::Ge => Val::Bool(!builtin_lt(&arg(0), &arg(1))?),
            Func::And | Func::Or | Func::Call => Val::Invalid,
        })
    }

    /// Runs a formatting call within `min(MAX_OUTPUT, output left)` bytes and charges what it cost. Passing the
    /// per-call cap is the per-string guard rail's error; passing what is left of the budget spends the budget.
    fn format(
        &mut self,
        f: impl FnOnce(usize) -> Result<Formatted, Overflow>,
    ) -> Result<Rc<str>, String> {
        let left = self.budget.output_left();
        match f(MAX_OUTPUT.min(left)) {
            Ok(Formatted { text, cost }) => {
                self.budget.take_output(cost)?;
                Ok(text)
            }
            Err(Overflow) if left < MAX_OUTPUT => {
                Err(self.budget.exhaust(super::Exhausted::Output))
            }
            Err(Overflow) => Err(format!("formatted output exceeds {MAX_OUTPUT} bytes")),
        }
    }

    /// `html`, `js` and `urlquery`: the escaped text is never shorter than its input, so the input must fit in what
    /// is left before escaping it; the result is then charged.
    fn escape(&mut self, argv: &[Val], escape: fn(&str) -> String) -> Result<Rc<str>, String> {
        let left = self.budget.output_left();
        let input = match eval_args(argv, MAX_OUTPUT.min(left)) {
            Ok(Formatted { text, cost }) => {
                self.budget.take_output(cost)?;
                text
            }
            Err(Overflow) if left < MAX_OUTPUT => {
                return Err(self.budget.exhaust(super::Exhausted::Output))
            }
            Err(Overflow) => return Err(format!("formatted output exceeds {MAX_OUTPUT} bytes")),
        };
        if input.len() > self.budget.output_left() {
            return Err(self.budget.exhaust(super::Exhausted::Output));
        }
        let out = escape(&input);
        self.budget.take_output(out.len())?;
        Ok(out.into())
    }

    /// `validateType` for the value types a template can produce.
    fn validate_type(&self, value: Val, typ: Option<Param>) -> EResult<Val> {
        match (value, typ) {
            (Val::Invalid, Some(Param::Str)) => self.errorf("invalid value; expected string"),
            (v @ Val::Str(_), _) => Ok(v),
            (v, Some(Param::Str)) => self.errorf(format!(
                "wrong type for value; expected string; got {}",
                type_name(&v)
            )),
            (v, _) => Ok(v),
        }
    }

    fn eval_arg(&mut self, dot: &Val, typ: Option<Param>, node: &'t Arg) -> EResult<Val> {
        self.at = Some(At::Arg(node));
        // Each argument is work: `{{ print 1 1 1 ... }}` with 100k arguments in a loop must run out of steps.
        self.tick()?;
        match node {
            Arg::Dot { .. } => return self.validate_type(dot.clone(), typ),
            Arg::Nil { .. } => {
                return match typ {
                    Some(Param::Str) => self.errorf("cannot assign nil to string"),
                    _ => Ok(Val::Invalid),
                }
            }
            Arg::Field { ident, .. } => {
                let v = self.eval_field_chain(node, dot.clone(), ident)?;
                return self.validate_type(v, typ);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable_node(node, &[], &None)?;
                return self.validate_type(v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, Some(p))?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier { .. } => {
                let v = self.eval_function(dot, node, At::Arg(node), &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain_node(dot, node)?;
                return self.validate_type(v, typ);
            }
            _ => {}
        }
        if typ == Some(Param::Str) {
            return match node {
                Arg::Str { text, .. } => Ok(Val::Str(text.clone())),
                other => self.errorf(format!("expected string; found {other}")),
            };
        }
        match node {
            Arg::Bool { val, .. } => Ok(Val::Bool(*val)),
            Arg::Number { num, .. } => self.ideal_constant(node, num),
            Arg::Str { text, .. } => Ok(Val::Str(text.clone())),
            other => self.errorf(format!(
                "can't handle assignment of {other} to empty interface argument"
            )),
        }
    }
}

/// The string bytes a builtin reads from its arguments (compared, escaped, formatted, looked up). `len`, `index`,
/// `slice`, `not` read no string content (a `slice` result is charged as output).
fn bytes_read(func: Func, argv: &[Val]) -> usize {
    let len = |v: &Val| match v {
        Val::Str(s) => s.len(),
        _ => 0,
    };
    match func {
        Func::Len | Func::Index | Func::Slice | Func::Not | Func::And | Func::Or | Func::Call => 0,
        // `eq a b c` compares `a` with each of the others.
        Func::Eq => {
            let first = argv.first().map_or(0, len);
            argv.iter()
                .skip(1)
                .map(|b| first.min(len(b)).saturating_add(1))
                .fold(first, usize::saturating_add)
        }
        _ => argv.iter().map(len).fold(0, usize::saturating_add),
    }
}
