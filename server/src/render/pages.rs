//! Builds the view models of the public pages and feeds from [`Data`].

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

pub use super::views::*;
use super::{
    fragments::Fragments,
    markdown,
    statuspage::{ComponentIndex, PageCtx},
    time::{duration, time_view},
};
use crate::domain::{Component, Incident, IncidentId, Period, Update as IncidentUpdate};
use crate::domain::{ComponentStatus, IncidentStatus, uptime};

/// The frame of a page at `path` whose content last changed at `updated`.
pub fn layout(
    data: &Data,
    links: &StaticLinks,
    title: Option<&str>,
    path: &str,
    updated: DateTime<Utc>,
) -> Layout {
    let name = data.page.name.clone();
    Layout {
        base: data.ctx.base.clone(),
        title: title.map_or_else(
            || format!("{name} Status"),
            |t| format!("{t} · {name} Status"),
        ),
        description: format!("Current status and incident history of {name}"),
        canonical: format!("{}{}", data.ctx.url, path),
        page_url: data.ctx.url.clone(),
        page_name: name,
        time_zone: data.page.time_zone.clone(),
        css_href: format!("{}{}", data.ctx.base, links.css),
        js_href: format!("{}{}", data.ctx.base, links.js),
        icon_href: links.icon.clone(),
        updated: time_view(updated, data.ctx.tz),
    }
}

fn update_view(u: &IncidentUpdate, tz: Tz, md: &markdown::Cache) -> UpdateView {
    UpdateView {
        id: u.id.to_string(),
        status: u.status.as_str().to_owned(),
        status_label: u.status.label(),
        body_html: md.html(&u.body).to_string(),
        at: time_view(u.display_at, tz),
        next_update: u.next_update_due_at.map(|t| time_view(t, tz)),
    }
}

pub fn card(
    i: &Incident,
    index: &ComponentIndex<'_>,
    ctx: &PageCtx,
    now: DateTime<Utc>,
    md: &markdown::Cache,
) -> IncidentCard {
    let tz = ctx.tz;
    let open = i.status.is_open();
    IncidentCard {
        id: i.id.to_string(),
        url: format!("{}/incidents/{}", ctx.base, i.id),
        name: i.name.clone(),
        status: i.status.as_str().to_owned(),
        status_label: i.status.label(),
        impact: i.impact,
        is_maintenance: i.scheduled_for.is_some(),
        latest: i.updates.first().map(|u| update_view(u, tz, md)),
        next_update: i
            .next_update_due_at
            .filter(|_| open)
            .map(|t| time_view(t, tz)),
        next_update_overdue: open && i.next_update_due_at.is_some_and(|t| t < now),
        started: time_view(i.started_at, tz),
        resolved: i.resolved_at.map(|t| time_view(t, tz)),
        // A maintenance lasts from its scheduled start, not from when it was announced.
        duration: (i.status != IncidentStatus::Scheduled).then(|| {
            let from = i
                .scheduled_for
                .map_or(i.started_at, |s| s.min(i.resolved_at.unwrap_or(now)));
            duration(from, i.resolved_at.unwrap_or(now))
        }),
        affected: affected(i, index, tz),
        scheduled_for: i.scheduled_for.map(|t| time_view(t, tz)),
        scheduled_until: i.scheduled_until.map(|t| time_view(t, tz)),
        overrun: i.plan.overrun_at.is_some()
            && matches!(
                i.status,
                crate::domain::IncidentStatus::InProgress
                    | crate::domain::IncidentStatus::Verifying
            ),
    }
}

/// The components an incident affects: while it is live, at the status it gives each
/// now (what the component list shows); once over, at the worst each had. A component
/// deleted since keeps the name the incident recorded.
fn affected(i: &Incident, index: &ComponentIndex<'_>, tz: Tz) -> Vec<AffectedView> {
    let live = crate::domain::holds::live(i.status);
    let over = !i.status.is_open();
    let periods = if over {
        crate::domain::impact::periods(i)
    } else {
        Vec::new()
    };
    let statuses = if live {
        crate::domain::impact::giving(i)
    } else {
        i.components.clone()
    };
    let recorded = |id: &crate::domain::ComponentId| {
        i.updates
            .iter()
            .flat_map(|u| u.affected_components.iter().flatten())
            .find(|a| &a.code == id)
            .map(|a| a.name.clone())
    };
    statuses
        .into_iter()
        .filter(|(_, s)| *s != ComponentStatus::Operational || !i.status.is_open())
        .filter_map(|(id, s)| {
            let (name, group) = match index.get(&id) {
                Some(c) => (
                    c.name.clone(),
                    c.group_id
                        .as_ref()
                        .and_then(|g| index.get(g))
                        .map(|g| g.name.clone()),
                ),
                None => (recorded(&id)?, None),
            };
            // Over, it says what the component went through, never as if it were now.
            let mut during = spells(&periods, &id, i.started_at, tz);
            if over && during.is_empty() {
                during.push(Spell {
                    status: s,
                    text: s.label().to_owned(),
                });
            }
            let now = index.get(&id).map(|c| index.status(c)).filter(|_| over);
            Some(AffectedView {
                name,
                group,
                status: s,
                status_label: s.label(),
                during,
                now,
                now_label: now.map(|n| n.label()),
            })
        })
        .collect()
}

/// What component `id` went through in `periods`, in words: times in `tz`, with the
/// date when it is not the day the incident started.
fn spells(
    periods: &[Period],
    id: &crate::domain::ComponentId,
    started: DateTime<Utc>,
    tz: Tz,
) -> Vec<Spell> {
    let day = started.with_timezone(&tz).date_naive();
    let at = |t: DateTime<Utc>| {
        let t = t.with_timezone(&tz);
        if t.date_naive() == day {
            t.format("%H:%M").to_string()
        } else {
            t.format("%b %-d %H:%M").to_string()
        }
    };
    periods
        .iter()
        .filter(|p| &p.component_id == id)
        .map(|p| Spell {
            status: p.status,
            text: match p.end {
                Some(end) => format!("{} from {} to {}", p.status.label(), at(p.start), at(end)),
                None => format!("{} since {}", p.status.label(), at(p.start)),
            },
        })
        .collect()
}

/// Local midnights of the last `n` days, oldest first, in the page's zone.
fn day_starts(now: DateTime<Utc>, tz: Tz, n: i64) -> Vec<(NaiveDate, DateTime<Utc>)> {
    let today = now.with_timezone(&tz).date_naive();
    (0..n)
        .rev()
        .filter_map(|back| {
            let d = today - Duration::days(back);
            let start = tz
                .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                .earliest()?;
            Some((d, start.with_timezone(&Utc)))
        })
        .collect()
}

fn uptime_view(
    c: &Component,
    periods: &[&Period],
    names: &HashMap<IncidentId, String>,
    days: &[(NaiveDate, DateTime<Utc>)],
    ctx: &PageCtx,
    now: DateTime<Utc>,
) -> UptimeView {
    let starts: Vec<DateTime<Utc>> = days.iter().map(|(_, s)| *s).collect();
    let daily = uptime::daily(periods, &starts, now);
    let observed = super::uptime::observed_from(c, periods, ctx.tz);
    let over_last = |n: usize| {
        let from = starts
            .get(starts.len().saturating_sub(n))
            .copied()
            .unwrap_or(now);
        percent(super::uptime::report(periods, observed, from, now).percent)
    };
    let cells: Vec<DayCell> = daily
        .iter()
        .zip(days)
        .map(|(d, (date, _))| {
            let no_data = observed >= d.start + Duration::seconds(d.observed_seconds);
            let summary = if no_data {
                "No data".to_owned()
            } else {
                match d.totals.describe() {
                    Some(what) if d.outage_seconds() == 0 => format!("{what}, no downtime"),
                    Some(what) => what,
                    None => "No downtime".to_owned(),
                }
            };
            let worst = d.worst();
            // The part of the day the component was observed.
            let seen = (d.start + Duration::seconds(d.observed_seconds) - observed.max(d.start))
                .num_seconds()
                .clamp(0, d.observed_seconds);
            let share = uptime::share(seen, d.outage_seconds().min(seen));
            let incidents: Vec<DayIncident> = d
                .incidents
                .iter()
                .filter_map(|id| {
                    names.get(id).map(|name| DayIncident {
                        name: name.clone(),
                        url: format!("{}/incidents/{}", ctx.base, id),
                    })
                })
                .collect();
            DayCell {
                date: date.format("%Y-%m-%d").to_string(),
                label: date.format("%b %-d, %Y").to_string(),
                status: worst,
                summary,
                uptime: percent((share * 10_000.0).floor() / 100.0),
                eventful: !no_data
                    && (worst != ComponentStatus::Operational || !incidents.is_empty()),
                incidents,
                no_data,
                code: if no_data { "n" } else { day_code(worst) },
            }
        })
        .collect();
    UptimeView {
        percent: over_last(starts.len()),
        percent_60: over_last(60),
        percent_30: over_last(30),
        eventful_days: cells.iter().filter(|c| c.eventful).count(),
        days: cells,
    }
}

/// "100%", "99.91%".
fn percent(p: f64) -> String {
    if p >= 100.0 {
        "100%".to_owned()
    } else {
        format!("{p:.2}%")
    }
}

fn day_code(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "o",
        ComponentStatus::DegradedPerformance => "d",
        ComponentStatus::PartialOutage => "p",
        ComponentStatus::MajorOutage => "m",
        ComponentStatus::UnderMaintenance => "u",
    }
}

/// The home page; its parts (cards, past incidents, strips of days) come from
/// `parts`, which keeps those whose view did not change.
pub fn index_view(data: &Data, links: &StaticLinks, parts: &Fragments<'_>) -> IndexView {
    let index = ComponentIndex::new(&data.components);
    let tz = data.ctx.tz;
    let status = data.status();
    let days = day_starts(data.now, tz, UPTIME_DAYS);
    let mut by_component: HashMap<&str, Vec<&Period>> = HashMap::new();
    for p in &data.periods {
        by_component
            .entry(p.component_id.as_str())
            .or_default()
            .push(p);
    }
    let today = data
        .now
        .with_timezone(&tz)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let row = |c: &Component, children: Vec<ComponentRow>| {
        let status = index.status(c);
        let group = c.group_id.as_ref().and_then(|g| index.get(g));
        ComponentRow {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            status,
            status_label: status.label(),
            is_group: c.is_group,
            is_child: group.is_some(),
            children,
            uptime_html: (!c.is_group).then(|| {
                let view = uptime_view(
                    c,
                    by_component
                        .get(c.id.as_str())
                        .map(Vec::as_slice)
                        .unwrap_or(&[]),
                    &data.period_names,
                    &days,
                    &data.ctx,
                    data.now,
                );
                let name = match group {
                    Some(g) => format!("{}, {}", c.name, g.name),
                    None => c.name.clone(),
                };
                parts.html(
                    "partials/uptime",
                    &UptimeStrip {
                        name: &name,
                        uptime_days: UPTIME_DAYS,
                        today: &today,
                        uptime: &view,
                    },
                )
            }),
        }
    };
    let visible = |c: &&Component| {
        !c.only_show_if_degraded || index.status(c) != ComponentStatus::Operational
    };
    let components = data
        .components
        .iter()
        .filter(|c| c.group_id.is_none())
        .filter(visible)
        .map(|c| {
            let children = index
                .children(&c.id)
                .iter()
                .copied()
                .filter(visible)
                .map(|ch| row(ch, Vec::new()))
                .collect();
            row(c, children)
        })
        .collect();
    let mut going_on: Vec<&Incident> = data
        .active_maintenance
        .iter()
        .chain(data.upcoming.iter())
        .collect();
    going_on.dedup_by_key(|i| &i.id);
    let render_card = |i: &Incident, template: &str| {
        parts.html(
            template,
            &card(i, &index, &data.ctx, data.now, &data.markdown),
        )
    };
    let maintenances = going_on
        .into_iter()
        .map(|i| render_card(i, "partials/incident_card"))
        .collect();
    let recent_days = day_starts(data.now, tz, RECENT_DAYS)
        .into_iter()
        .rev()
        .map(|(date, _)| DayIncidents {
            date: date.format("%Y-%m-%d").to_string(),
            label: date.format("%b %-d, %Y").to_string(),
            incidents: data
                .recent
                .iter()
                .filter(|i| {
                    i.scheduled_for.is_none()
                        && i.started_at.with_timezone(&tz).date_naive() == date
                })
                .map(|i| render_card(i, "partials/past_incident"))
                .collect(),
        })
        .collect();
    IndexView {
        layout: layout(data, links, None, "/", data.page.updated_at),
        banner: Banner {
            indicator: status.indicator,
            description: status.description.to_owned(),
        },
        active_incidents: data
            .unresolved
            .iter()
            .map(|i| render_card(i, "partials/incident_card"))
            .collect(),
        maintenances,
        components,
        recent_days,
        uptime_days: UPTIME_DAYS,
    }
}

pub fn incident_view(data: &Data, links: &StaticLinks, i: &Incident) -> IncidentPageView {
    let index = ComponentIndex::new(&data.components);
    let published = i.postmortem_published_at.is_some();
    IncidentPageView {
        layout: layout(
            data,
            links,
            Some(&i.name),
            &format!("/incidents/{}", i.id),
            i.updated_at,
        ),
        incident: card(i, &index, &data.ctx, data.now, &data.markdown),
        updates: i
            .updates
            .iter()
            .map(|u| update_view(u, data.ctx.tz, &data.markdown))
            .collect(),
        postmortem_html: i
            .postmortem_published_body
            .as_deref()
            .filter(|_| published)
            .map(|b| data.markdown.html(b).to_string()),
        postmortem_published: i.postmortem_published_at.map(|t| time_view(t, data.ctx.tz)),
        first_update_minutes: (data.page.show_first_update_delay && i.scheduled_for.is_none())
            .then(|| crate::domain::communication::record(i, data.now).first_update_minutes)
            .flatten(),
    }
}

pub fn history_view(
    data: &Data,
    links: &StaticLinks,
    incidents: &[Incident],
    page: u64,
    has_more: bool,
    parts: &Fragments<'_>,
) -> HistoryView {
    let index = ComponentIndex::new(&data.components);
    let tz = data.ctx.tz;
    let mut months: Vec<MonthView> = Vec::new();
    // By when each happened (a backfill entered today belongs to its own month).
    let mut by_time: Vec<&Incident> = incidents.iter().collect();
    by_time.sort_by_key(|i| std::cmp::Reverse(i.scheduled_for.unwrap_or(i.started_at)));
    for i in by_time {
        let at = i.scheduled_for.unwrap_or(i.started_at).with_timezone(&tz);
        let label = format!("{} {}", month_name(at.month()), at.year());
        if months.last().is_none_or(|m| m.label != label) {
            months.push(MonthView {
                label,
                incidents: Vec::new(),
            });
        }
        if let Some(m) = months.last_mut() {
            m.incidents.push(parts.html(
                "partials/history_item",
                &card(i, &index, &data.ctx, data.now, &data.markdown),
            ));
        }
    }
    HistoryView {
        layout: layout(
            data,
            links,
            Some("History"),
            "/history",
            incidents
                .iter()
                .map(|i| i.updated_at)
                .max()
                .unwrap_or(data.page.created_at),
        ),
        months,
        page,
        prev_page: (page > 1).then(|| page - 1),
        next_page: has_more.then_some(page + 1),
    }
}

fn month_name(m: u32) -> &'static str {
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    .get(m.saturating_sub(1) as usize)
    .copied()
    .unwrap_or("")
}

pub fn feeds_view(data: &Data, links: &StaticLinks) -> FeedsView {
    FeedsView {
        layout: layout(data, links, Some("Feeds"), "/feeds", data.page.created_at),
    }
}

pub fn error_view(
    data: &Data,
    links: &StaticLinks,
    status: u16,
    heading: &str,
    message: &str,
) -> ErrorView {
    ErrorView {
        layout: layout(data, links, Some(heading), "/", data.page.created_at),
        status,
        heading: heading.to_owned(),
        message: message.to_owned(),
    }
}

/// The Atom/RSS view: one entry per incident or maintenance, newest first, each with
/// all its updates as Statuspage writes them.
pub fn feed_view(data: &Data) -> FeedView {
    let host = url::Url::parse(&data.ctx.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let ts = super::time::iso_ms;
    let rfc822 = |t: DateTime<Utc>| t.format("%a, %d %b %Y %H:%M:%S %z").to_string();
    let entries = data
        .recent
        .iter()
        .map(|i| {
            let content_html = i
                .updates
                .iter()
                .map(|u| {
                    let at = u.display_at.with_timezone(&data.ctx.tz);
                    let zone = if super::time::is_utc(data.ctx.tz) { "UTC".to_owned() } else { at.format("%Z").to_string() };
                    format!(
                        "<p><small>{} <var data-var='date'>{}</var>, <var data-var='time'>{}</var> {zone}</small><br><strong>{}</strong> - {}</p>",
                        at.format("%b"),
                        at.format("%-d"),
                        at.format("%H:%M"),
                        u.status.label(),
                        data.markdown.text(&u.body).replace('\n', " ")
                    )
                })
                .collect::<String>();
            let postmortem = match (&i.postmortem_published_body, i.postmortem_published_at) {
                (Some(body), Some(at)) => {
                    let at = at.with_timezone(&data.ctx.tz);
                    let zone = if super::time::is_utc(data.ctx.tz) { "UTC".to_owned() } else { at.format("%Z").to_string() };
                    format!(
                        "<p><small>{} <var data-var='date'>{}</var>, <var data-var='time'>{}</var> {zone}</small><br><strong>Postmortem</strong> - {}</p>",
                        at.format("%b"),
                        at.format("%-d"),
                        at.format("%H:%M"),
                        data.markdown.text(body).replace('\n', " ")
                    )
                }
                _ => String::new(),
            };
            let content_html = postmortem + &content_html;
            // The latest of the entry's times: never before it was published.
            let updated = i
                .updates
                .iter()
                .map(|u| u.display_at)
                .chain([i.created_at, i.updated_at])
                .chain(i.postmortem_published_at)
                .max()
                .unwrap_or(i.updated_at);
            FeedEntry {
                id: i.id.to_string(),
                title: i.name.clone(),
                url: data.ctx.shortlink(&i.id),
                published: ts(i.created_at),
                updated: ts(updated),
                published_rfc822: rfc822(i.created_at),
                content_html,
            }
        })
        .collect();
    let updated = data
        .recent
        .iter()
        .map(|i| i.updated_at)
        .max()
        .unwrap_or(data.page.updated_at);
    FeedView {
        host,
        page_name: data.page.name.clone(),
        page_url: data.ctx.url.clone(),
        updated: ts(updated),
        updated_rfc822: rfc822(updated),
        entries,
    }
}
