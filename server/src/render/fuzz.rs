//! Property tests of the paths hostile input reaches: Markdown (accepted or refused, a
//! body never makes rendering slow) and times (accepted or refused, no date arithmetic
//! overflows). They run a bounded number of cases in every test run, CI included.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use crate::domain::text;
use crate::render::{markdown, statuspage::PageCtx, time};

/// The slowest render a body that passed the checks may take. Generous, so a loaded
/// machine running a debug build never fails it: what it catches is the superlinear
/// blow-up (a 30 KB body once took 23 s), not milliseconds, which the benchmarks measure.
const BUDGET: Duration = Duration::from_secs(1);

/// Markdown-ish text: the constructs whose cost can grow with nesting, mixed with text.
fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("> ".to_owned()),
        Just("- ".to_owned()),
        Just("1. ".to_owned()),
        Just("* ".to_owned()),
        Just("  ".to_owned()),
        Just("\n".to_owned()),
        Just("**".to_owned()),
        Just("[a](".to_owned()),
        Just(")".to_owned()),
        Just("<div>".to_owned()),
        Just("</div>".to_owned()),
        Just("| a | b |\n|---|---|\n".to_owned()),
        Just("```\n".to_owned()),
        Just("![i](//x/p.gif)".to_owned()),
        "[a-z ]{0,8}",
    ];
    (prop::collection::vec(piece, 0..400), 1usize..60).prop_map(|(v, repeat)| {
        let once: String = v.concat();
        once.repeat(repeat.min(text::MAX_BODY / once.len().max(1) + 1))
    })
}

fn ctx(tz: &str) -> PageCtx {
    PageCtx {
        id: "page".into(),
        url: "https://status.example.com".into(),
        base: String::new(),
        tz: tz.parse().unwrap_or(chrono_tz::Tz::UTC),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn accepted_markdown_renders_within_budget(md in markdownish()) {
        if text::markdown("body", &md, text::MAX_BODY).is_ok() {
            let started = Instant::now();
            let html = markdown::to_html(&md);
            let took = started.elapsed();
            prop_assert!(took < BUDGET, "{} chars took {:?}", md.len(), took);
            prop_assert!(!html.contains("<script"));
            let _ = markdown::to_text(&md);
            let _ = markdown::to_plain(&md);
        }
    }

    #[test]
    fn any_string_is_accepted_or_refused_without_panic(s in ".{0,2000}") {
        let _ = text::markdown("body", &s, text::MAX_BODY);
        let _ = text::name("name", &s);
        let _ = text::subdomain("subdomain", &s);
    }

    #[test]
    fn any_time_is_accepted_or_refused_and_shown_without_overflow(
        secs in any::<i64>(),
        tz in prop_oneof![Just("Etc/UTC"), Just("Pacific/Kiritimati"), Just("Pacific/Pago_Pago"), Just("Europe/Berlin")],
    ) {
        let Some(t) = DateTime::<Utc>::from_timestamp(secs / 1000, 0) else {
            return Ok(());
        };
        let _ = text::time("at", t);
        // Whatever is stored, showing it does not overflow.
        let c = ctx(tz);
        let _ = c.ts(t);
        let _ = time::time_view(t, c.tz);
        let _ = time::duration(t, text::latest());
    }
}
