//! Responders' Markdown to HTML that is safe to put in a page: pulldown-cmark renders,
//! ammonia removes raw HTML that could run (scripts, event handlers, `javascript:` links).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Form {
    Html,
    Text,
    Plain,
}

type Key = (Form, [u8; 16]);

/// Rendered bodies by key.
type Rendered = HashMap<Key, Arc<str>>;

/// Every body rendered once per change: the snapshot's documents and pages ask this
/// cache, which renders what it has not seen. It keeps what the last build used and
/// forgets the rest (see [`Cache::turn`]), so it holds about what the public side
/// shows.
#[derive(Default)]
pub struct Cache {
    policy: Policy,
    /// What the current build used, and what the previous one did.
    generations: Mutex<(Rendered, Rendered)>,
}

/// What rendered Markdown may load: images only from these origins (the page's own,
/// and hosts the operator lists) or inline `data:` images. Anything else would let an
/// update load a tracking pixel into every reader's browser.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub image_origins: Vec<String>,
}

impl Policy {
    /// Images from `page_url`'s origin and from `hosts` (origins such as
    /// `https://cdn.example.com`).
    pub fn new(page_url: &str, hosts: &[String]) -> Policy {
        let origin = |u: &str| {
            url::Url::parse(u)
                .ok()
                .map(|u| u.origin().ascii_serialization())
                .filter(|o| o != "null")
        };
        Policy {
            image_origins: std::iter::once(page_url)
                .chain(hosts.iter().map(String::as_str))
                .filter_map(origin)
                .collect(),
        }
    }

    fn image_allowed(&self, src: &str) -> bool {
        if src.starts_with("data:image/") {
            return true;
        }
        url::Url::parse(src).is_ok_and(|u| {
            let o = u.origin().ascii_serialization();
            self.image_origins.contains(&o)
        })
    }
}

impl Cache {
    pub fn new(policy: Policy) -> Cache {
        Cache {
            policy,
            generations: Mutex::default(),
        }
    }

    fn get(&self, form: Form, markdown: &str) -> Arc<str> {
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&Sha256::digest(markdown.as_bytes())[..16]);
        let key = (form, digest);
        if let Ok(mut g) = self.generations.lock() {
            if let Some(hit) = g.0.get(&key) {
                return hit.clone();
            }
            if let Some(hit) = g.1.remove(&key) {
                g.0.insert(key, hit.clone());
                return hit;
            }
        }
        let out: Arc<str> = match form {
            Form::Html => to_html_with(markdown, &self.policy),
            Form::Text => to_text(markdown),
            Form::Plain => to_plain(markdown),
        }
        .into();
        if let Ok(mut g) = self.generations.lock() {
            g.0.insert(key, out.clone());
        }
        out
    }

    /// [`to_html`], cached.
    pub fn html(&self, markdown: &str) -> Arc<str> {
        self.get(Form::Html, markdown)
    }

    /// [`to_text`], cached.
    pub fn text(&self, markdown: &str) -> Arc<str> {
        self.get(Form::Text, markdown)
    }

    /// [`to_plain`], cached.
    pub fn plain(&self, markdown: &str) -> Arc<str> {
        self.get(Form::Plain, markdown)
    }

    /// Ends a build: what it did not use is forgotten at the end of the next one.
    pub fn turn(&self) {
        if let Ok(mut g) = self.generations.lock() {
            let used = std::mem::take(&mut g.0);
            g.1 = used;
        }
    }

    pub fn len(&self) -> usize {
        self.generations
            .lock()
            .map(|g| g.0.len() + g.1.len())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renders and sanitises with no image allowed but inline ones.
pub fn to_html(markdown: &str) -> String {
    to_html_with(markdown, &Policy::default())
}

/// Renders and sanitises: one policy for every body, updates and postmortems alike.
/// Tables, lists, code and links survive; links get `rel="noopener noreferrer
/// nofollow"`; relative and protocol-relative URLs go (a body is shown on other pages,
/// in feeds and mail, where they would point elsewhere); images load only as `policy`
/// allows; `cite` (a URL readers never see) goes.
pub fn to_html_with(markdown: &str, policy: &Policy) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    // Bodies sit under the page's <h1> and a section's <h2>: their top headings (`#` or,
    // as often, `##`) become <h3>, the others keep their steps below.
    let top = Parser::new_ext(markdown, options)
        .filter_map(|e| match e {
            Event::Start(Tag::Heading { level, .. }) => Some(level as usize),
            _ => None,
        })
        .min()
        .unwrap_or(1);
    let demote = |level: HeadingLevel| {
        HeadingLevel::try_from((level as usize + 3).saturating_sub(top).min(6))
            .unwrap_or(HeadingLevel::H6)
    };
    let parser = linkified(Parser::new_ext(markdown, options)).map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
        other => other,
    });
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    let policy = policy.clone();
    let clean = ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto", "data"].into_iter().collect())
        .url_relative(ammonia::UrlRelative::Deny)
        .attribute_filter(
            move |element, attribute, value| match (element, attribute) {
                ("img", "src") => policy.image_allowed(value).then(|| value.into()),
                (_, "cite") => None,
                // `data:` is for inline images only, never a link.
                (_, "href") if value.trim_start().to_ascii_lowercase().starts_with("data:") => None,
                _ => Some(value.into()),
            },
        )
        .clean(&raw)
        .to_string();
    scrollable(&clean)
}

/// Code blocks and tables may be wider than the page: each becomes a scrolling region a
/// keyboard can reach (`tabindex=0`) with a name. Done on ammonia's output, whose tags
/// are normalised (`<pre>`, `<table` and attributes it allowed), so nothing a responder
/// wrote can add or change these attributes.
fn scrollable(html: &str) -> String {
    if !html.contains("<pre>") && !html.contains("<table") {
        return html.to_owned();
    }
    html.replace(
        "<pre>",
        "<pre class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Code\">",
    )
    .replace(
        "<table",
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table",
    )
    .replace("</table>", "</table></div>")
}

/// Bare `http(s)://` addresses in text become links, as GitHub's Markdown does
/// (CommonMark has no autolinks without angle brackets). Only text outside links,
/// code and raw HTML is touched; the links then pass through the same sanitiser as
/// any other.
fn linkified<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut in_link = 0usize;
    let mut in_code = false;
    let mut pending = String::new();
    let mut out: Vec<Event<'a>> = Vec::new();
    let mut events = events.peekable();
    std::iter::from_fn(move || {
        loop {
            if !out.is_empty() {
                return Some(out.remove(0));
            }
            let event = events.next()?;
            match &event {
                Event::Start(Tag::Link { .. } | Tag::Image { .. }) => in_link += 1,
                Event::End(TagEnd::Link | TagEnd::Image) => in_link = in_link.saturating_sub(1),
                // A link written as raw HTML.
                Event::InlineHtml(h) if h.starts_with("<a ") || h.starts_with("<a>") => {
                    in_link += 1
                }
                Event::InlineHtml(h) if h.starts_with("</a") => in_link = in_link.saturating_sub(1),
                Event::Start(Tag::CodeBlock(_)) => in_code = true,
                Event::End(TagEnd::CodeBlock) => in_code = false,
                _ => {}
            }
            let Event::Text(text) = &event else {
                return Some(event);
            };
            if in_link > 0 || in_code {
                return Some(event);
            }
            // pulldown-cmark may split a run of text (at `_`, `*`, `[`): join it first.
            pending.push_str(text);
            if matches!(events.peek(), Some(Event::Text(_))) {
                continue;
            }
            let text = std::mem::take(&mut pending);
            out = link_events(text);
        }
    })
}

/// `text` as text and link events around the addresses in it.
fn link_events<'a>(text: String) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some((start, end)) = next_url(rest) {
        if start > 0 {
            out.push(Event::Text(rest[..start].to_owned().into()));
        }
        let url = rest[start..end].to_owned();
        out.push(Event::Start(Tag::Link {
            link_type: pulldown_cmark::LinkType::Autolink,
            dest_url: url.clone().into(),
            title: "".into(),
            id: "".into(),
        }));
        out.push(Event::Text(url.into()));
        out.push(Event::End(TagEnd::Link));
        rest = &rest[end..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(Event::Text(rest.to_owned().into()));
    }
    out
}

/// The byte range of the first `http://` or `https://` address in `s`: up to a space,
/// a quote or an angle bracket, without trailing punctuation or an unmatched `)`.
fn next_url(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    loop {
        let at = from + s[from..].find("http")?;
        let tail = &s[at..];
        let scheme = if tail.starts_with("https://") {
            8
        } else if tail.starts_with("http://") {
            7
        } else {
            from = at + 4;
            continue;
        };
        // A word that merely contains "http" ("xhttp://") is not an address.
        let starts_word = s[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let mut end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
            .unwrap_or(tail.len());
        loop {
            let url = &tail[..end];
            let Some(last) = url.chars().next_back() else {
                break;
            };
            let unmatched = last == ')' && url.matches('(').count() < url.matches(')').count();
            if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'') || unmatched {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        if starts_word && end > scheme {
            return Some((at, at + end));
        }
        from = at + scheme;
    }
}

/// Markdown as plain text (no markup, no entities), for calendars and other
/// non-HTML formats.
pub fn to_plain(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => out.push('\n'),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The first lines of an update as plain text, for feeds' titles and summaries.
pub fn to_text(markdown: &str) -> String {
    ammonia::Builder::empty()
        .clean(&to_html(markdown))
        .to_string()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn values_escaped_for_editing_render_as_the_fully_escaped_ones_do() {
        use crate::domain::template::{escape_markdown, escape_markdown_for_editing};
        for v in [
            "2026-04-14 14:30 (UTC+02:00).",
            "https://status.example.com/help_me?a=1&b=2",
            "<img src=x onerror=alert(1)> **bold** _it_ `code` [link](http://x) ~~s~~ a|b",
            "# heading",
            "- item",
            "1. first",
            "3) third",
            "> quote",
            "api_gateway v2.1 & EU-West",
            "&amp; &#65; \\ back",
        ] {
            let full = to_html(&format!("See {}", escape_markdown(v)));
            let edit = to_html(&format!("See {}", escape_markdown_for_editing(v)));
            assert_eq!(full, edit, "{v}");
            let alone_full = to_html(&escape_markdown(v));
            let alone_edit = to_html(&escape_markdown_for_editing(v));
            assert_eq!(alone_full, alone_edit, "{v} alone");
        }
        assert_eq!(
            escape_markdown_for_editing("2026-04-14 (14:30) https://example.com/a_b."),
            "2026-04-14 (14:30) https://example.com/a_b."
        );
    }

    #[test]
    fn images_load_only_from_allowed_origins_and_nothing_is_relative() {
        let policy = super::Policy::new(
            "https://status.example.com/status",
            &["https://cdn.example.com".to_owned()],
        );
        let html = super::to_html_with(
            "![ok](https://status.example.com/a.png) ![cdn](https://cdn.example.com/b.png) \
             ![pixel](https://tracker.example/p.gif) <img src=\"//tracker.example/p\"> \
             ![rel](/x.png) [rel](/x) [proto](//evil.example/x) ![inline](data:image/png;base64,iVBORw0KGgo=) \
             [d](data:text/html,hi)\n\n<blockquote cite=\"javascript:alert(1)\">q</blockquote>",
            &policy,
        );
        assert!(html.contains("https://status.example.com/a.png"), "{html}");
        assert!(html.contains("https://cdn.example.com/b.png"), "{html}");
        assert!(html.contains("data:image/png"), "{html}");
        for bad in [
            "tracker.example",
            "/x.png",
            "href=\"/x\"",
            "evil.example",
            "data:text",
            "cite=",
        ] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
    }

    #[test]
    fn the_cache_renders_once_and_forgets_what_builds_stop_using() {
        let cache = super::Cache::default();
        let a = cache.html("**a**");
        assert_eq!(&*a, to_html("**a**"));
        assert!(
            std::sync::Arc::ptr_eq(&a, &cache.html("**a**")),
            "rendered once"
        );
        cache.html("b");
        cache.turn();
        cache.html("**a**");
        cache.turn();
        assert_eq!(cache.len(), 1, "b was not used by the last build");
        cache.turn();
        cache.turn();
        assert!(cache.is_empty());
    }

    #[test]
    fn hostile_markdown_comes_out_inert() {
        let hostile = [
            "<script>alert(1)</script>",
            "<img src=x onerror=\"alert(2)\">",
            "[click](javascript:alert(3))",
            "<a href=\"javascript:alert(4)\">x</a>",
            "[x](JaVaScRiPt:alert(4))",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<div onclick=\"alert(5)\" style=\"position:fixed\">overlay</div>",
            "<svg><script>alert(6)</script></svg>",
            "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)",
            "<form action=\"https://evil.example\"><input name=a></form>",
            "<object data=\"x\"></object><embed src=\"x\">",
            "<style>body{display:none}</style>",
            "![img](javascript:alert(8))",
            "<a href=\"&#106;avascript:alert(9)\">entity</a>",
        ]
        .join("\n\n");
        let out = to_html(&hostile).to_lowercase();
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "href=\"javascript",
            "src=\"javascript",
            "href=\"data:",
            "<iframe",
            "<form",
            "<input",
            "<object",
            "<embed",
            "<style",
            "style=",
            "&#106;",
        ] {
            assert!(!out.contains(bad), "{bad} survived in {out}");
        }
        assert!(
            out.contains("overlay") && out.contains("entity"),
            "harmless text stays: {out}"
        );
    }

    #[test]
    fn bare_addresses_become_links_and_nothing_else_does() {
        let out = to_html(
            "See https://example.com/status_page_(v2)/a_b?x=1&y=2. Or (http://example.org/x), \
             [named](https://example.net) `https://in.code` xhttps://not.one https://\n\n\
             ```\nhttps://in.block\n```\n\n<a href=\"https://raw.example\">https://raw.example</a>",
        );
        for good in [
            "<a href=\"https://example.com/status_page_(v2)/a_b?x=1&amp;y=2\" rel=\"noopener noreferrer nofollow\">https://example.com/status_page_(v2)/a_b?x=1&amp;y=2</a>.",
            "(<a href=\"http://example.org/x\" rel=\"noopener noreferrer nofollow\">http://example.org/x</a>),",
            "<a href=\"https://example.net\" rel=\"noopener noreferrer nofollow\">named</a>",
            "<code>https://in.code</code>",
            "xhttps://not.one",
            "https://in.block\n</code>",
        ] {
            assert!(out.contains(good), "{good} missing from {out}");
        }
        assert_eq!(out.matches("<a ").count(), 4, "{out}");
        let hostile = to_html("https://x.example/\"onmouseover=\"alert(1) javascript://x");
        // The quote ends the address; what follows stays text, and only http(s) links.
        assert!(
            hostile.contains("<a href=\"https://x.example/\" rel=\"noopener noreferrer nofollow\">https://x.example/</a>"),
            "{hostile}"
        );
        assert_eq!(hostile.matches("<a ").count(), 1, "{hostile}");
    }

    #[test]
    fn wide_code_and_tables_scroll_in_named_focusable_regions() {
        let out = to_html(
            "```\nlong\n```\n\n| a |\n|---|\n| 1 |\n\n<table border=\"1\" tabindex=\"-1\"><tr><td>raw</td></tr></table>",
        );
        assert_eq!(
            out.matches(
                "<pre class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Code\">"
            )
            .count(),
            1,
            "{out}"
        );
        assert_eq!(
            out.matches(
                "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table"
            )
            .count(),
            2,
            "{out}"
        );
        assert_eq!(out.matches("</table></div>").count(), 2, "{out}");
        assert!(!out.contains("tabindex=\"-1\""), "{out}");
    }

    #[test]
    fn plain_text_has_no_markup_or_entities() {
        assert_eq!(
            super::to_plain("**AT&T** is <b>down</b>\n\n- one"),
            "AT&T is down\none"
        );
    }

    #[test]
    fn useful_markdown_survives() {
        let md = "## Root cause\n\n### Detail\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n\n`code` and [a link](https://example.com)\n\n```\nblock\n```";
        let out = to_html(md);
        for good in [
            "<h3>Root cause</h3>",
            "<h4>Detail</h4>",
            "<table>",
            "<td>1</td>",
            "<li>one</li>",
            "<code>code</code>",
            "href=\"https://example.com\"",
            "rel=\"noopener noreferrer nofollow\"",
            "aria-label=\"Code\"><code>block",
        ] {
            assert!(out.contains(good), "{good} missing from {out}");
        }
    }
}
