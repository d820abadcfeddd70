//! Handlebars in strict mode. Templates are compiled into the binary from `templates/`;
//! an operator can override any of them from a folder (`templates_dir`).

use std::path::Path;

use handlebars::Handlebars;
use serde::Serialize;

/// (name, source) of every built-in template.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "layouts/base",
        include_str!("../../../templates/layouts/base.hbs"),
    ),
    (
        "partials/banner",
        include_str!("../../../templates/partials/banner.hbs"),
    ),
    (
        "partials/incident_card",
        include_str!("../../../templates/partials/incident_card.hbs"),
    ),
    (
        "partials/update",
        include_str!("../../../templates/partials/update.hbs"),
    ),
    (
        "partials/component",
        include_str!("../../../templates/partials/component.hbs"),
    ),
    (
        "partials/past_incident",
        include_str!("../../../templates/partials/past_incident.hbs"),
    ),
    (
        "partials/history_item",
        include_str!("../../../templates/partials/history_item.hbs"),
    ),
    (
        "partials/uptime",
        include_str!("../../../templates/partials/uptime.hbs"),
    ),
    (
        "partials/time",
        include_str!("../../../templates/partials/time.hbs"),
    ),
    (
        "pages/index",
        include_str!("../../../templates/pages/index.hbs"),
    ),
    (
        "pages/incident",
        include_str!("../../../templates/pages/incident.hbs"),
    ),
    (
        "pages/history",
        include_str!("../../../templates/pages/history.hbs"),
    ),
    (
        "pages/feeds",
        include_str!("../../../templates/pages/feeds.hbs"),
    ),
    (
        "pages/error",
        include_str!("../../../templates/pages/error.hbs"),
    ),
    (
        "feeds/atom",
        include_str!("../../../templates/feeds/history.atom.hbs"),
    ),
    (
        "feeds/rss",
        include_str!("../../../templates/feeds/history.rss.hbs"),
    ),
    (
        "layouts/email",
        include_str!("../../../templates/layouts/email.hbs"),
    ),
    (
        "email/incident.html",
        include_str!("../../../templates/email/incident.html.hbs"),
    ),
    (
        "email/incident.txt",
        include_str!("../../../templates/email/incident.txt.hbs"),
    ),
    (
        "email/component.html",
        include_str!("../../../templates/email/component.html.hbs"),
    ),
    (
        "email/component.txt",
        include_str!("../../../templates/email/component.txt.hbs"),
    ),
    (
        "email/confirm.html",
        include_str!("../../../templates/email/confirm.html.hbs"),
    ),
    (
        "email/confirm.txt",
        include_str!("../../../templates/email/confirm.txt.hbs"),
    ),
    (
        "email/signin.html",
        include_str!("../../../templates/email/signin.html.hbs"),
    ),
    (
        "email/signin.txt",
        include_str!("../../../templates/email/signin.txt.hbs"),
    ),
    (
        "pages/subscribe",
        include_str!("../../../templates/pages/subscribe.hbs"),
    ),
    (
        "pages/manage",
        include_str!("../../../templates/pages/manage.hbs"),
    ),
    (
        "pages/message",
        include_str!("../../../templates/pages/message.hbs"),
    ),
    (
        "layouts/admin",
        include_str!("../../../templates/admin/layout.hbs"),
    ),
    (
        "partials/admin_components",
        include_str!("../../../templates/admin/components.hbs"),
    ),
    (
        "partials/admin_tenant_form",
        include_str!("../../../templates/admin/tenant_form.hbs"),
    ),
    (
        "partials/admin_preview",
        include_str!("../../../templates/admin/preview.hbs"),
    ),
    (
        "admin/message",
        include_str!("../../../templates/admin/message.hbs"),
    ),
    (
        "admin/signin",
        include_str!("../../../templates/admin/signin.hbs"),
    ),
    (
        "admin/welcome",
        include_str!("../../../templates/admin/welcome.hbs"),
    ),
    (
        "admin/reset",
        include_str!("../../../templates/admin/reset.hbs"),
    ),
    (
        "admin/dashboard",
        include_str!("../../../templates/admin/dashboard.hbs"),
    ),
    (
        "admin/ledger",
        include_str!("../../../templates/admin/ledger.hbs"),
    ),
    (
        "admin/audit",
        include_str!("../../../templates/admin/audit.hbs"),
    ),
    (
        "admin/declare",
        include_str!("../../../templates/admin/declare.hbs"),
    ),
    (
        "admin/incident",
        include_str!("../../../templates/admin/incident.hbs"),
    ),
    (
        "admin/postmortem",
        include_str!("../../../templates/admin/postmortem.hbs"),
    ),
    (
        "partials/admin_settings_nav",
        include_str!("../../../templates/admin/settings_nav.hbs"),
    ),
    (
        "admin/settings",
        include_str!("../../../templates/admin/settings.hbs"),
    ),
    (
        "admin/users",
        include_str!("../../../templates/admin/users.hbs"),
    ),
    (
        "admin/tokens",
        include_str!("../../../templates/admin/tokens.hbs"),
    ),
    (
        "admin/maintenance_list",
        include_str!("../../../templates/admin/maintenance_list.hbs"),
    ),
    (
        "admin/maintenance_new",
        include_str!("../../../templates/admin/maintenance_new.hbs"),
    ),
    (
        "admin/maintenance",
        include_str!("../../../templates/admin/maintenance.hbs"),
    ),
    (
        "admin/series",
        include_str!("../../../templates/admin/series.hbs"),
    ),
    (
        "partials/admin_maintenance_preview",
        include_str!("../../../templates/admin/maintenance_preview.hbs"),
    ),
    (
        "partials/admin_errors",
        include_str!("../../../templates/admin/errors.hbs"),
    ),
    (
        "admin/subscribers",
        include_str!("../../../templates/admin/subscribers.hbs"),
    ),
    (
        "admin/subscriber",
        include_str!("../../../templates/admin/subscriber.hbs"),
    ),
    (
        "admin/tenants",
        include_str!("../../../templates/admin/tenants.hbs"),
    ),
    (
        "admin/tenant",
        include_str!("../../../templates/admin/tenant.hbs"),
    ),
    (
        "admin/import",
        include_str!("../../../templates/admin/import.hbs"),
    ),
    (
        "admin/board",
        include_str!("../../../templates/admin/board.hbs"),
    ),
    (
        "admin/component",
        include_str!("../../../templates/admin/component.hbs"),
    ),
    (
        "admin/group",
        include_str!("../../../templates/admin/group.hbs"),
    ),
    (
        "admin/templates",
        include_str!("../../../templates/admin/templates.hbs"),
    ),
    (
        "admin/template",
        include_str!("../../../templates/admin/template.hbs"),
    ),
];

pub struct Renderer {
    hb: Handlebars<'static>,
    /// Plain-text mail: nothing is escaped.
    text: Handlebars<'static>,
    /// Feeds are XML: only `& < > "` are escaped, so the HTML inside an entry reads as
    /// Statuspage's does.
    xml: Handlebars<'static>,
}

impl Renderer {
    pub fn new(override_dir: Option<&Path>) -> anyhow::Result<Renderer> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        let mut xml = Handlebars::new();
        xml.set_strict_mode(true);
        xml.register_escape_fn(escape_xml);
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        for (name, source) in BUILT_IN {
            let source = match override_dir.map(|d| d.join(format!("{name}.hbs"))) {
                Some(p) if p.exists() => std::fs::read_to_string(&p)
                    .map_err(|e| anyhow::anyhow!("reading template {}: {e}", p.display()))?,
                _ => (*source).to_owned(),
            };
            // Layouts and partials are used as `{{#> base}}` and `{{> banner}}`.
            if let Some(short) = name
                .strip_prefix("partials/")
                .or_else(|| name.strip_prefix("layouts/"))
            {
                hb.register_partial(short, source.clone())
                    .map_err(|e| anyhow::anyhow!("partial {name}: {e}"))?;
            }
            let registry = if name.starts_with("feeds/") {
                &mut xml
            } else if name.ends_with(".txt") {
                &mut text
            } else {
                &mut hb
            };
            registry
                .register_template_string(name, source)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        Ok(Renderer { hb, text, xml })
    }

    pub fn render<T: Serialize>(
        &self,
        name: &str,
        data: &T,
    ) -> Result<String, handlebars::RenderError> {
        if name.starts_with("feeds/") {
            self.xml.render(name, data)
        } else if name.ends_with(".txt") {
            self.text.render(name, data)
        } else {
            self.hb.render(name, data)
        }
    }
}

/// Escapes text for the feeds, and drops what XML 1.0 does not allow whatever is
/// stored (NUL, ESC, BEL and the other C0 controls but tab and line breaks, the C1
/// controls, U+FFFE and U+FFFF): one such character would make the whole feed unreadable.
fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
