//! The status page's own settings.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};

use super::{Result, StoreError, Write, entity::pages, new_id};
use crate::domain::{Event, PageId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub id: PageId,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    /// Statuspage's `subdomain`; `None` until set, when the URL's first label is used.
    pub subdomain: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where readers get help: a template variable (`page.support_url`).
    pub support_url: Option<String>,
    /// Reminded before a promised update is due (with `responder_webhook_url`).
    pub responder_emails: Vec<String>,
    pub responder_webhook_url: Option<String>,
    /// How long before a promised update is due the responders are reminded.
    pub reminder_lead_minutes: u32,
    /// The public incident page says how long after the impact began the first update
    /// came.
    pub show_first_update_delay: bool,
}

/// The longest reminder lead a page may set (a day).
pub const MAX_REMINDER_LEAD_MINUTES: u32 = 1_440;
/// Responders a page may list.
pub const MAX_RESPONDER_EMAILS: usize = 50;

impl Page {
    /// The subdomain clients see: the one set, else the first label of the public URL's
    /// host name (`status` for an address or `localhost`).
    pub fn subdomain(&self) -> String {
        if let Some(s) = &self.subdomain {
            return s.clone();
        }
        let host = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| match u.host() {
                Some(url::Host::Domain(d)) if d != "localhost" => Some(d.to_owned()),
                _ => None,
            });
        host.and_then(|h| h.split('.').next().map(str::to_owned))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "status".to_owned())
    }
}

impl From<pages::Model> for Page {
    fn from(m: pages::Model) -> Self {
        Page {
            id: m.id,
            name: m.name,
            url: m.url,
            time_zone: m.time_zone,
            subdomain: m.subdomain,
            created_at: m.created_at,
            updated_at: m.updated_at,
            support_url: m.support_url,
            // A list that does not parse (written by hand) reminds no one rather than
            // stopping the page.
            responder_emails: m
                .responder_emails
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default(),
            responder_webhook_url: m.responder_webhook_url,
            reminder_lead_minutes: u32::try_from(m.reminder_lead_minutes)
                .unwrap_or(5)
                .min(MAX_REMINDER_LEAD_MINUTES),
            show_first_update_delay: m.show_first_update_delay,
        }
    }
}

/// What became of the page's public URL at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlAtStart {
    /// The stored one equals the one given.
    Same,
    /// The one given replaced the stored one.
    Changed { from: String },
    /// None was given; the stored one is kept.
    Kept,
    /// A new page with the URL given.
    Created,
    /// A new page, with the default URL since none was given.
    Defaulted,
}

/// Returns the page's id, creating the page on first start (at `public_url`, else
/// `default_url`). A given public URL replaces a stored one that differs; without one
/// the stored address is kept.
pub(super) async fn ensure(
    db: &impl ConnectionTrait,
    public_url: Option<&str>,
    default_url: &str,
    now: DateTime<Utc>,
) -> Result<(PageId, UrlAtStart)> {
    let existing = pages::Entity::find()
        .order_by_asc(pages::Column::CreatedAt)
        .one(db)
        .await?;
    match (existing, public_url) {
        (Some(p), Some(u)) if p.url == u => Ok((p.id, UrlAtStart::Same)),
        (Some(p), Some(public_url)) => {
            let (id, from) = (p.id.clone(), p.url.clone());
            let mut am: pages::ActiveModel = p.into();
            am.url = Set(public_url.to_owned());
            am.update(db).await?;
            Ok((id, UrlAtStart::Changed { from }))
        }
        (Some(p), None) => Ok((p.id, UrlAtStart::Kept)),
        (None, public_url) => {
            let page = pages::ActiveModel {
                id: Set(PageId::new(new_id())),
                name: Set("Herald".to_owned()),
                url: Set(public_url.unwrap_or(default_url).to_owned()),
                time_zone: Set("Etc/UTC".to_owned()),
                subdomain: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                derived_version: Set(0),
                link_secret: Set(None),
                templates_seeded: Set(false),
                support_url: Set(None),
                responder_emails: Set(None),
                responder_webhook_url: Set(None),
                reminder_lead_minutes: Set(5),
                show_first_update_delay: Set(false),
            }
            .insert(db)
            .await?;
            let how = if public_url.is_some() {
                UrlAtStart::Created
            } else {
                UrlAtStart::Defaulted
            };
            Ok((page.id, how))
        }
    }
}

pub async fn get(db: &impl ConnectionTrait, id: &PageId) -> Result<Page> {
    pages::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .map(Page::from)
        .ok_or_else(|| StoreError::not_found("page", id.as_str()))
}

#[derive(Debug, Default, Clone)]
pub struct PagePatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub subdomain: Option<String>,
    /// `Some("")` clears it.
    pub support_url: Option<String>,
    pub responder_emails: Option<Vec<String>>,
    /// `Some("")` clears it.
    pub responder_webhook_url: Option<String>,
    pub reminder_lead_minutes: Option<u32>,
    pub show_first_update_delay: Option<bool>,
}

/// A support address: an http(s) URL or `mailto:`; empty clears it.
fn support_url(v: &str) -> Result<Option<String>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(addr) = v.strip_prefix("mailto:") {
        let addr = crate::domain::notify::email("support_url", addr)?;
        return Ok(Some(format!("mailto:{addr}")));
    }
    // Checked as an endpoint is, kept as written.
    crate::domain::notify::endpoint("support_url", v).map_err(|_| {
        crate::domain::DomainError::invalid(
            "support_url",
            format!("support_url must be an http(s) URL or mailto: address, got '{v}'"),
        )
    })?;
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(crate::domain::DomainError::invalid(
            "support_url",
            "support_url must not contain spaces or control characters",
        )
        .into());
    }
    Ok(Some(v.to_owned()))
}

pub async fn update(w: &mut Write, patch: PagePatch) -> Result<Page> {
    let mut am: pages::ActiveModel = pages::Entity::find_by_id(w.page_id().clone())
        .one(w.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("page", w.page_id().as_str()))?
        .into();
    if let Some(name) = &patch.name {
        am.name = Set(crate::domain::text::name("name", name)?);
    }
    if let Some(tz) = &patch.time_zone {
        am.time_zone = Set(tz.clone());
    }
    if let Some(s) = &patch.subdomain {
        am.subdomain = Set(Some(crate::domain::text::subdomain("subdomain", s)?));
    }
    if let Some(u) = &patch.support_url {
        am.support_url = Set(support_url(u)?);
    }
    if let Some(list) = &patch.responder_emails {
        if list.len() > MAX_RESPONDER_EMAILS {
            return Err(crate::domain::DomainError::invalid(
                "responder_emails",
                format!("a page lists at most {MAX_RESPONDER_EMAILS} responders"),
            )
            .into());
        }
        let mut clean: Vec<String> = Vec::with_capacity(list.len());
        for e in list {
            let e = crate::domain::notify::email("responder_emails", e)?;
            if !clean.iter().any(|c| c.eq_ignore_ascii_case(&e)) {
                clean.push(e);
            }
        }
        am.responder_emails = Set(if clean.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&clean).unwrap_or_default())
        });
    }
    if let Some(u) = &patch.responder_webhook_url {
        let u = u.trim();
        am.responder_webhook_url = Set(if u.is_empty() {
            None
        } else {
            Some(crate::domain::notify::endpoint("responder_webhook_url", u)?)
        });
    }
    if let Some(m) = patch.reminder_lead_minutes {
        if !(1..=MAX_REMINDER_LEAD_MINUTES).contains(&m) {
            return Err(crate::domain::DomainError::invalid(
                "reminder_lead_minutes",
                format!("reminder_lead_minutes must be between 1 and {MAX_REMINDER_LEAD_MINUTES}"),
            )
            .into());
        }
        am.reminder_lead_minutes = Set(i32::try_from(m).unwrap_or(5));
    }
    if let Some(b) = patch.show_first_update_delay {
        am.show_first_update_delay = Set(b);
    }
    am.updated_at = Set(w.now());
    let page: Page = am.update(w.conn()).await?.into();
    w.record(&[Event::PageUpdated {
        page_id: page.id.clone(),
    }])
    .await?;
    w.audit(
        "page.update",
        "page",
        page.id.as_str(),
        serde_json::json!({
            "name": patch.name,
            "time_zone": patch.time_zone,
            "subdomain": patch.subdomain,
            "support_url": patch.support_url,
            "responder_emails": patch.responder_emails,
            "responder_webhook_url": patch.responder_webhook_url,
            "reminder_lead_minutes": patch.reminder_lead_minutes,
            "show_first_update_delay": patch.show_first_update_delay,
        }),
    )
    .await?;
    Ok(page)
}

/// The secret that signs links in mails, made on first use.
pub async fn link_secret(db: &impl ConnectionTrait, id: &PageId) -> Result<String> {
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    let page = pages::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .ok_or_else(|| super::StoreError::not_found("page", id.as_str()))?;
    if let Some(s) = page.link_secret.filter(|s| !s.is_empty()) {
        return Ok(s);
    }
    let secret = crate::notify::links::new_secret();
    pages::Entity::update_many()
        .col_expr(pages::Column::LinkSecret, Expr::value(Some(secret.clone())))
        .filter(pages::Column::Id.eq(id.clone()))
        .filter(pages::Column::LinkSecret.is_null())
        .exec(db)
        .await?;
    // Another instance may have made one first: read what stands.
    Ok(pages::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .and_then(|p| p.link_secret)
        .unwrap_or(secret))
}
