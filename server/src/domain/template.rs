//! Incident templates: Handlebars texts with a fixed set of variables, checked when they
//! are saved and rendered when an incident or update names one. Pure: the caller gives
//! the facts (page, incident, components, promise, free variables) and gets text.
//!
//! Rules that keep a template from surprising anyone at 3 a.m.:
//! - strict mode: a name that is not a variable is an error, found when the template is
//!   saved (it is rendered against sample facts, once with every value present and once
//!   with every value empty, so both branches of an `{{#if}}` are checked);
//! - no partials, decorators or triple-stash (`{{{raw}}}`); only Handlebars' built-in
//!   helpers (`if`, `unless`, `each`, `with`, `eq`...), none of which reaches files, the
//!   network, the environment or the clock;
//! - bounded: at most [`MAX_TEMPLATE_BYTES`] and [`MAX_DEPTH`] nested blocks, output at
//!   most [`MAX_OUTPUT_BYTES`];
//! - escaped for where it goes: values in a body are escaped for Markdown (so a variable
//!   holding `<img>` or `**` shows as typed); a title is plain text.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::{
    Handlebars,
    template::{Template, TemplateElement},
};
use serde_json::{Map, Value, json};

use super::DomainError;

pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;
pub const MAX_DEPTH: usize = 8;
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Free variables one use may give.
pub const MAX_VARS: usize = 50;
const MAX_VAR_BYTES: usize = 2_000;

/// Where a rendered text goes, which decides its escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An incident name: plain text, escaped where it is shown.
    Title,
    /// An update body: Markdown.
    Markdown,
    /// An update body a person will read and edit before it is posted (the console's
    /// declare form): Markdown, with a value escaped only where Markdown would act on
    /// it, so dates, times and addresses read as typed.
    Editing,
}

/// A component named by an incident, with its group (pod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub group: Option<String>,
    pub status: String,
}

/// What a template may speak of.
#[derive(Debug, Clone)]
pub struct Facts {
    pub page_name: String,
    pub page_url: String,
    /// Where readers get help (`https://...` or `mailto:...`), empty when unset.
    pub support_url: String,
    pub tz: Tz,
    pub incident_name: String,
    /// Human words: "Investigating".
    pub status: String,
    pub impact: String,
    pub started: Option<DateTime<Utc>>,
    pub components: Vec<Named>,
    /// The promised next update and the minutes it is away.
    pub next_update: Option<(DateTime<Utc>, u32)>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub vars: BTreeMap<String, String>,
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%b %-d, %H:%M %Z").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// "Voice and Knowledge base in Prod2 (EU), and Public API".
pub fn component_names(components: &[Named]) -> String {
    let mut groups: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
    for c in components {
        let g = c.group.as_deref();
        match groups.iter_mut().find(|(k, _)| *k == g) {
            Some((_, names)) => names.push(&c.name),
            None => groups.push((g, vec![&c.name])),
        }
    }
    let parts: Vec<String> = groups
        .into_iter()
        .map(|(g, names)| {
            let list = human_list(&names);
            match g {
                Some(g) => format!("{list} in {g}"),
                None => list,
            }
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    human_list(&refs)
}

fn human_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Facts {
    /// The template's context: every key always present (empty when unknown), so
    /// strict mode refuses only names that are not variables.
    pub fn context(&self) -> Value {
        let tz = self.tz;
        let when = |t: Option<DateTime<Utc>>| {
            (
                t.map(|t| local(t, tz)).unwrap_or_default(),
                t.map(utc).unwrap_or_default(),
            )
        };
        let (started, started_utc) = when(self.started);
        let (starts, starts_utc) = when(self.scheduled_for);
        let (ends, ends_utc) = when(self.scheduled_until);
        let (next_local, next_utc) = when(self.next_update.map(|(t, _)| t));
        let mut pods: Vec<&str> = Vec::new();
        for g in self.components.iter().filter_map(|c| c.group.as_deref()) {
            if !pods.contains(&g) {
                pods.push(g);
            }
        }
        json!({
            "page": {
                "name": self.page_name,
                "url": self.page_url,
                "support_url": self.support_url,
                "time_zone": tz.name(),
            },
            "incident": {
                "name": self.incident_name,
                "status": self.status,
                "impact": self.impact,
                "started": started,
                "started_utc": started_utc,
            },
            "components": self.components.iter().map(|c| json!({
                "name": c.name, "group": c.group.clone().unwrap_or_default(), "status": c.status
            })).collect::<Vec<_>>(),
            "component_names": component_names(&self.components),
            "pods": human_list(&pods),
            "next_update": {
                "local": next_local,
                "utc": next_utc,
                "minutes": self.next_update.map_or(0, |(_, m)| m),
            },
            "maintenance": {
                "starts": starts, "starts_utc": starts_utc, "ends": ends, "ends_utc": ends_utc,
            },
            "vars": self.vars,
        })
    }

    /// Facts for checking a template: every value present, or every value empty.
    fn sample(full: bool, vars: &[String]) -> Value {
        let t = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
        let f = Facts {
            page_name: "Acme".into(),
            page_url: "https://status.example.com".into(),
            support_url: "https://support.example.com".into(),
            tz: Tz::UTC,
            incident_name: "Calls failing".into(),
            status: "Investigating".into(),
            impact: "major".into(),
            started: Some(t),
            components: vec![Named {
                name: "Voice".into(),
                group: Some("Prod2 (EU)".into()),
                status: "Major Outage".into(),
            }],
            next_update: Some((t, 30)),
            scheduled_for: Some(t),
            scheduled_until: Some(t),
            vars: vars
                .iter()
                .map(|v| (v.clone(), "sample".to_owned()))
                .collect(),
        };
        let v = f.context();
        if full { v } else { emptied(v) }
    }
}

/// The same shape with every string empty, every array empty, every number zero.
fn emptied(v: Value) -> Value {
    match v {
        Value::String(_) => Value::String(String::new()),
        Value::Number(_) => json!(0),
        Value::Bool(_) => Value::Bool(false),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, emptied(v))).collect()),
        Value::Null => Value::Null,
    }
}

/// Escapes a value for Markdown: punctuation Markdown acts on gets a backslash, and
/// `<`, `>`, `&` become entities, so a value shows exactly as it was given.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a value for Markdown a person edits: a backslash only before what would
/// act as Markdown where it stands (emphasis, code, links, HTML, an entity, a block
/// marker at the start), so `2026-04-14 (14:30)` and `https://example.com` read as
/// typed and still render exactly as given.
pub fn escape_markdown_for_editing(s: &str) -> String {
    let chars: Vec<char> = s
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(s.len() + 8);
    // A block marker where the value starts: `#`, `>`, `-`, `+`, `=`, or `1.` / `1)`.
    let first = chars.iter().position(|c| *c != ' ').unwrap_or(chars.len());
    let digits = chars[first..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let ordinal = (digits > 0)
        .then(|| first + digits)
        .filter(|&i| matches!(chars.get(i), Some('.' | ')')));
    let word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '~' | '|' => true,
            // Inside a word an underscore is only a letter.
            '_' => !(word(i.checked_sub(1)) && word(Some(i + 1))),
            '&' => chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#'),
            '#' | '>' | '-' | '+' | '=' => i == first,
            '.' | ')' => ordinal == Some(i),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn registry(target: Target) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.set_prevent_indent(true);
    match target {
        Target::Title => h.register_escape_fn(handlebars::no_escape),
        Target::Markdown => h.register_escape_fn(escape_markdown),
        Target::Editing => h.register_escape_fn(escape_markdown_for_editing),
    }
    h
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

fn walk(elements: &[TemplateElement], depth: usize, field: &str) -> Result<(), DomainError> {
    if depth > MAX_DEPTH {
        return Err(DomainError::invalid(
            field,
            format!("blocks are nested more than {MAX_DEPTH} deep"),
        ));
    }
    for e in elements {
        match e {
            TemplateElement::HtmlExpression(_) => {
                return Err(DomainError::invalid(
                    field,
                    "{{{triple-stash}}} is not allowed: values are always escaped; use {{name}}",
                ));
            }
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                return Err(DomainError::invalid(
                    field,
                    "partials ({{> name}}) are not available in templates",
                ));
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                return Err(DomainError::invalid(
                    field,
                    "decorators ({{* name}}) are not available in templates",
                ));
            }
            TemplateElement::HelperBlock(h) => {
                for t in [&h.template, &h.inverse].into_iter().flatten() {
                    walk(&t.elements, depth + 1, field)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The free variables a template names (`vars.NAME`).
pub fn free_variables(source: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("vars.") {
        let after = &rest[i + 5..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name.clone());
        }
        rest = &after[name.len()..];
    }
    out
}

/// Checks a template text as it is saved: it parses, is bounded, and names only
/// variables and helpers that exist. The error names `field` and, where Handlebars
/// knows it, the line and column.
pub fn check(field: &str, source: &str, target: Target) -> Result<(), DomainError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(DomainError::invalid(
            field,
            format!("a template is at most {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    let parsed = Template::compile(source).map_err(|e| {
        DomainError::invalid(
            field,
            format!(
                "the template does not parse: {}{}",
                e.reason(),
                position(e.pos().map(|p| p.0), e.pos().map(|p| p.1))
            ),
        )
    })?;
    walk(&parsed.elements, 0, field)?;
    let vars = free_variables(source);
    for full in [true, false] {
        render_value(source, &Facts::sample(full, &vars), target).map_err(|m| {
            DomainError::invalid(field, format!("the template cannot be used: {m}"))
        })?;
    }
    Ok(())
}

fn render_value(source: &str, ctx: &Value, target: Target) -> Result<String, String> {
    let out = registry(target)
        .render_template(source, ctx)
        .map_err(|e| format!("{}{}", e.reason(), position(e.line_no, e.column_no)))?;
    if out.len() > MAX_OUTPUT_BYTES {
        return Err(format!("the text would be over {MAX_OUTPUT_BYTES} bytes"));
    }
    Ok(out)
}

/// Checks free variables given at use.
pub fn check_vars(vars: &Map<String, Value>) -> Result<BTreeMap<String, String>, DomainError> {
    if vars.len() > MAX_VARS {
        return Err(DomainError::invalid(
            "template_vars",
            format!("at most {MAX_VARS} template variables"),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in vars {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(DomainError::invalid(
                "template_vars",
                format!("'{k}' is not a variable name (letters, digits and _)"),
            ));
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(DomainError::invalid(
                    format!("template_vars.{k}"),
                    "a template variable is a string, a number or a boolean",
                ));
            }
        };
        if text.len() > MAX_VAR_BYTES {
            return Err(DomainError::invalid(
                format!("template_vars.{k}"),
                format!("a template variable is at most {MAX_VAR_BYTES} bytes"),
            ));
        }
        out.insert(
            k.clone(),
            text.chars()
                .filter(|c| !super::text::is_forbidden(*c))
                .collect(),
        );
    }
    Ok(out)
}

/// Renders a saved template with `facts`; a free variable it names and the caller did
/// not give is an error naming it.
pub fn render(
    field: &str,
    source: &str,
    facts: &Facts,
    target: Target,
) -> Result<String, DomainError> {
    for v in free_variables(source) {
        if !facts.vars.contains_key(&v) {
            return Err(DomainError::invalid(
                format!("template_vars.{v}"),
                format!("the template needs template_vars.{v}"),
            ));
        }
    }
    render_value(source, &facts.context(), target)
        .map(|s| s.trim().to_owned())
        .map_err(|m| DomainError::invalid(field, format!("the template cannot be used: {m}")))
}

/// A template Herald ships on every page.
pub struct Shipped {
    pub name: &'static str,
    pub title: String,
    pub body: String,
    pub update_status: &'static str,
    pub next_update_minutes: Option<u32>,
}

const AFFECTED: &str = "{{#if components}}{{component_names}}{{else}}some of our services{{/if}}";
const PROMISE: &str = "{{#if next_update.minutes}} Please expect additional updates within the next {{next_update.minutes}} minutes (by {{next_update.local}}; {{next_update.utc}}).{{/if}}";
const SUPPORT: &str = "{{#if page.support_url}} If you need help in the meantime, please reach out to {{page.name}} Support via {{page.support_url}}.{{/if}}";

/// One per state, in the voice of a real status page; open states promise 30 minutes.
pub fn shipped() -> Vec<Shipped> {
    let t = |s: &str| {
        s.replace("AFFECTED", AFFECTED)
            .replace(" PROMISE", PROMISE)
            .replace(" SUPPORT", SUPPORT)
    };
    vec![
        Shipped {
            name: "Investigating",
            title: (t(
                "{{#if components}}Degraded service: {{component_names}}{{else}}Service disruption{{/if}}",
            )),
            body: (t(
                "We are investigating reports of problems affecting AFFECTED. PROMISE SUPPORT",
            )),
            update_status: "investigating",
            next_update_minutes: Some(30),
        },
        Shipped {
            name: "Identified",
            title: (t(
                "{{#if components}}Degraded service: {{component_names}}{{else}}Service disruption{{/if}}",
            )),
            body: (t(
                "We have identified the cause of the problems affecting AFFECTED and are working on a fix. PROMISE SUPPORT",
            )),
            update_status: "identified",
            next_update_minutes: Some(30),
        },
        Shipped {
            name: "Monitoring",
            title: (t(
                "{{#if components}}Degraded service: {{component_names}}{{else}}Service disruption{{/if}}",
            )),
            body: (t(
                "A fix has been implemented for AFFECTED and we are monitoring the results. PROMISE SUPPORT",
            )),
            update_status: "monitoring",
            next_update_minutes: Some(30),
        },
        Shipped {
            name: "Resolved",
            title: (t(
                "{{#if components}}Degraded service: {{component_names}}{{else}}Service disruption{{/if}}",
            )),
            body: (t(
                "This incident has been resolved: AFFECTED are operating normally again. We apologise for the disruption and will share what we learn.",
            )),
            update_status: "resolved",
            next_update_minutes: None,
        },
        Shipped {
            name: "Maintenance scheduled",
            title: (t("Scheduled maintenance{{#if components}}: {{component_names}}{{/if}}")),
            body: (t(
                "We will be performing scheduled maintenance on AFFECTED{{#if maintenance.starts}} from {{maintenance.starts}} to {{maintenance.ends}} ({{maintenance.starts_utc}} to {{maintenance.ends_utc}}){{/if}}. We do not expect an interruption; we will post updates here as the work progresses.",
            )),
            update_status: "scheduled",
            next_update_minutes: None,
        },
        Shipped {
            name: "Maintenance in progress",
            title: (t("Scheduled maintenance{{#if components}}: {{component_names}}{{/if}}")),
            body: (t(
                "Scheduled maintenance on AFFECTED is in progress. We will provide updates as necessary.",
            )),
            update_status: "in_progress",
            next_update_minutes: None,
        },
        Shipped {
            name: "Maintenance completed",
            title: (t("Scheduled maintenance{{#if components}}: {{component_names}}{{/if}}")),
            body: (t(
                "The scheduled maintenance on AFFECTED has been completed. Everything is operating normally.",
            )),
            update_status: "completed",
            next_update_minutes: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let t = DateTime::parse_from_rfc3339("2026-11-23T20:04:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Facts {
            page_name: "Acme".into(),
            page_url: "https://status.acme.test".into(),
            support_url: "https://help.acme.test".into(),
            tz: "Europe/Berlin".parse().unwrap_or(Tz::UTC),
            incident_name: "Calls failing".into(),
            status: "Investigating".into(),
            impact: "major".into(),
            started: Some(t),
            components: vec![
                Named {
                    name: "Voice".into(),
                    group: Some("Prod2 (EU)".into()),
                    status: "Major Outage".into(),
                },
                Named {
                    name: "Knowledge base".into(),
                    group: Some("Prod2 (EU)".into()),
                    status: "Partial Outage".into(),
                },
                Named {
                    name: "Public API".into(),
                    group: None,
                    status: "Degraded Performance".into(),
                },
            ],
            next_update: Some((t + chrono::Duration::minutes(30), 30)),
            scheduled_for: Some(t),
            scheduled_until: Some(t + chrono::Duration::hours(2)),
            vars: BTreeMap::new(),
        }
    }

    #[test]
    fn shipped_templates_render_for_every_state_with_components_and_the_promise() {
        let f = facts();
        for s in shipped() {
            check("template.title", &s.title, Target::Title)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            check("template.body", &s.body, Target::Markdown)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let body = render("body", &s.body, &f, Target::Markdown).unwrap_or_default();
            assert!(
                body.contains("Voice and Knowledge base in Prod2 \\(EU\\) and Public API"),
                "{}: {body}",
                s.name
            );
            if s.next_update_minutes.is_some() {
                assert!(body.contains("within the next 30 minutes"), "{body}");
                assert!(body.contains("Nov 23, 21:34 CET"), "{body}");
                assert!(body.contains("20:34 UTC"), "{body}");
            }
            let title = render("title", &s.title, &f, Target::Title).unwrap_or_default();
            assert!(!title.is_empty() && !title.contains('\\'), "{title}");
        }
        let mut none = facts();
        none.components.clear();
        let body = render("body", &shipped()[0].body, &none, Target::Markdown).unwrap_or_default();
        assert!(body.contains("some of our services"), "{body}");
    }

    #[test]
    fn hostile_templates_are_refused_with_a_reason() {
        for (source, says) in [
            ("{{incident.nmae}}", "incident.nmae"),
            ("{{#if components}}unclosed", "parse"),
            ("{{> secrets}}", "partials"),
            ("{{{component_names}}}", "triple-stash"),
            ("{{lookup_file \"/etc/passwd\"}}", "lookup_file"),
            ("{{env \"HOME\"}}", "env"),
            ("{{#if page.name}}{{else}}{{nope}}{{/if}}", "nope"),
        ] {
            let e = check("template.body", source, Target::Markdown)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(says), "{source}: {e}");
        }
        let deep = "{{#if page.name}}".repeat(20) + &"{{/if}}".repeat(20);
        assert!(
            check("b", &deep, Target::Markdown).is_err_and(|e| e.to_string().contains("nested"))
        );
        let huge = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        assert!(check("b", &huge, Target::Markdown).is_err());
        let e = check(
            "b",
            "line one\n{{#each components}}\n{{nmae}}\n{{/each}}",
            Target::Markdown,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("nmae") && e.contains("line 3"), "{e}");
    }

    #[test]
    fn variables_come_out_escaped_and_missing_ones_are_named() {
        let mut f = facts();
        f.vars.insert(
            "ticket".into(),
            "<img src=x onerror=alert(1)> **bold**".into(),
        );
        let body = render("body", "See {{vars.ticket}}.", &f, Target::Markdown).unwrap_or_default();
        assert!(!body.contains("<img"), "{body}");
        assert!(
            body.contains("&lt;img") && body.contains("\\*\\*bold\\*\\*"),
            "{body}"
        );
        f.vars.clear();
        let e = render("body", "See {{vars.ticket}}.", &f, Target::Markdown)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("template_vars.ticket"), "{e}");
        assert!(check("b", "Ticket {{vars.ticket}}", Target::Markdown).is_ok());
    }
}
