//! The incident timeline: an inline SVG with one lane per incident and one mark per alert
//! (a dot at first-seen, a bar to last-seen), coloured by severity. No script, no external
//! fonts or images: the chart is plain markup, and every label taken from the logs is
//! escaped. Hovering a mark shows the alert (an SVG `<title>`).

use keywarden_model::{Alert, Severity, Timestamp};

use crate::display::{compact_time, cut, plural};
use crate::escape::{escape_terminal, push_html};
use crate::incident::{IncidentView, start_of};

/// Incidents beyond this are listed in the table but not charted.
pub(super) const MAX_LANES: usize = 40;

const WIDTH: f64 = 1100.0;
const LABEL_W: f64 = 200.0;
const RIGHT_PAD: f64 = 24.0;
const TOP: f64 = 8.0;
const LANE_H: f64 = 26.0;
const AXIS_H: f64 = 26.0;

/// Tick spacings to choose from, in seconds (1 minute .. 1 year).
const TICKS: [i64; 16] = [
    60,
    300,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86_400,
    2 * 86_400,
    7 * 86_400,
    14 * 86_400,
    30 * 86_400,
    91 * 86_400,
    182 * 86_400,
    365 * 86_400,
];

/// The colour of a severity, shared with the stylesheet's badges.
pub(super) fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#a1122b",
        Severity::High => "#dc4b2f",
        Severity::Medium => "#d89600",
        Severity::Low => "#2b86c9",
        Severity::Info => "#7d8899",
    }
}

/// Appends the chart (or a sentence saying why there is none) to `out`.
pub(super) fn push_timeline(out: &mut String, views: &[IncidentView<'_>]) {
    let lanes: Vec<(usize, &IncidentView<'_>)> = views.iter().enumerate().take(MAX_LANES).collect();
    let times: Vec<Timestamp> = lanes
        .iter()
        .flat_map(|(_, v)| v.alerts.iter())
        .flat_map(|a| [start_of(a), a.time_last])
        .flatten()
        .collect();
    let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
        out.push_str("<p class=\"muted\">No alert carries a time: nothing to chart.</p>\n");
        return;
    };
    let scale = Scale::new(lo, hi);
    let height = TOP + LANE_H * lanes.len() as f64 + AXIS_H;
    out.push_str(&format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"Alerts per incident over time\">\n"
    ));
    for row in (0..lanes.len()).step_by(2) {
        out.push_str(&format!(
            "<rect class=\"lane\" x=\"0\" y=\"{}\" width=\"{WIDTH}\" height=\"{LANE_H}\"/>\n",
            TOP + LANE_H * row as f64
        ));
    }
    push_axis(out, &scale, height);
    for (row, (index, view)) in lanes.iter().enumerate() {
        push_lane(out, &scale, row, *index, view);
    }
    out.push_str("</svg>\n");
    push_legend(out);
    let hidden = views.len().saturating_sub(MAX_LANES);
    let untimed: usize = lanes
        .iter()
        .flat_map(|(_, v)| v.alerts.iter())
        .filter(|a| start_of(a).is_none())
        .count();
    if hidden > 0 || untimed > 0 {
        out.push_str(&format!(
            "<p class=\"muted\">Not charted: {hidden} less severe incident{} (see the table), \
             {untimed} alert{} without a time.</p>\n",
            plural(hidden),
            plural(untimed)
        ));
    }
}

/// Maps times to x coordinates over the plot area.
struct Scale {
    t0: i64,
    t1: i64,
}

impl Scale {
    fn new(lo: Timestamp, hi: Timestamp) -> Scale {
        let span = hi.0.saturating_sub(lo.0);
        let margin = if span < 60_000_000 {
            1_800_000_000
        } else {
            span / 30
        };
        Scale {
            t0: lo.0.saturating_sub(margin),
            t1: hi.0.saturating_add(margin),
        }
    }

    fn x(&self, t: Timestamp) -> f64 {
        let span = (self.t1 as f64 - self.t0 as f64).max(1.0);
        let frac = ((t.0 as f64 - self.t0 as f64) / span).clamp(0.0, 1.0);
        LABEL_W + frac * (WIDTH - LABEL_W - RIGHT_PAD)
    }
}

fn push_axis(out: &mut String, scale: &Scale, height: f64) {
    let span_s = (scale.t1 as f64 - scale.t0 as f64) / 1e6;
    let step = TICKS
        .iter()
        .copied()
        .find(|s| span_s / *s as f64 <= 7.0)
        .unwrap_or(365 * 86_400);
    let first = Timestamp(scale.t0).unix_seconds().div_euclid(step) + 1;
    let axis_y = height - AXIS_H;
    for k in 0..=8 {
        let t = Timestamp::from_unix_seconds(first.saturating_add(k).saturating_mul(step));
        if t.0 > scale.t1 {
            break;
        }
        let x = scale.x(t);
        let label = tick_label(t, step >= 86_400);
        out.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{axis_y}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>\n",
            axis_y + 16.0
        ));
    }
    out.push_str(&format!(
        "<text x=\"8\" y=\"{:.1}\">time (UTC)</text>\n",
        axis_y + 16.0
    ));
}

/// `06-15 04:00`, or `2023-06-15` for day-sized steps.
fn tick_label(t: Timestamp, days: bool) -> String {
    let s = t.to_string();
    let part = |r: std::ops::Range<usize>| s.get(r).unwrap_or("").to_string();
    if days {
        part(0..10)
    } else {
        format!("{} {}", part(5..10), part(11..16))
    }
}

fn push_lane(out: &mut String, scale: &Scale, row: usize, index: usize, view: &IncidentView<'_>) {
    let y = TOP + LANE_H * row as f64;
    let mid = y + LANE_H / 2.0;
    out.push_str(&format!(
        "<a href=\"#inc-{index}\"><text class=\"row-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">",
        LABEL_W - 10.0,
        mid + 4.0
    ));
    // Escape hidden characters before cutting, so the cut measures what is shown.
    push_html(out, &cut(&escape_terminal(view.label()), 22));
    out.push_str("</text></a>\n");
    let mut marks: Vec<&Alert> = view.alerts.clone();
    // Most severe drawn last, on top.
    marks.sort_by_key(|a| a.severity);
    for a in marks {
        let Some(start) = start_of(a) else { continue };
        let end = a.time_last.unwrap_or(start).max(start);
        let (x1, x2) = (scale.x(start), scale.x(end));
        let colour = severity_colour(a.severity);
        out.push_str("<g><title>");
        push_html(
            out,
            &format!(
                "[{}] {} ({}) {} → {}",
                a.severity.as_str(),
                a.title,
                a.rule_id,
                compact_time(Some(start)),
                compact_time(Some(end))
            ),
        );
        out.push_str("</title>");
        if x2 - x1 >= 3.0 {
            out.push_str(&format!(
                "<rect x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" rx=\"4\" fill=\"{colour}\" fill-opacity=\"0.45\"/>",
                mid - 4.0,
                x2 - x1
            ));
        }
        out.push_str(&format!(
            "<circle cx=\"{x1:.1}\" cy=\"{mid:.1}\" r=\"5.5\" fill=\"{colour}\" stroke=\"#ffffff\" stroke-width=\"1.5\"/></g>\n"
        ));
    }
}

fn push_legend(out: &mut String) {
    out.push_str("<p class=\"legend\">");
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        out.push_str(&format!(
            "<span><i class=\"sev-{}\"></i>{}</span>",
            s.as_str(),
            s.as_str()
        ));
    }
    out.push_str("<span>dot: first seen · bar: until last seen</span></p>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_keeps_marks_inside_the_plot() {
        let lo = Timestamp::from_unix_seconds(1_686_800_000);
        let hi = lo.plus_seconds(3600);
        let s = Scale::new(lo, hi);
        for t in [lo, hi, Timestamp(i64::MIN), Timestamp(i64::MAX)] {
            let x = s.x(t);
            assert!((LABEL_W..=WIDTH - RIGHT_PAD).contains(&x), "{x}");
        }
        let point = Scale::new(lo, lo);
        assert!(point.x(lo) > LABEL_W && point.x(lo) < WIDTH - RIGHT_PAD);
    }

    #[test]
    fn tick_labels() {
        let t = Timestamp::parse("2023-06-15T04:00:00Z").unwrap_or(Timestamp(0));
        assert_eq!(tick_label(t, false), "06-15 04:00");
        assert_eq!(tick_label(t, true), "2023-06-15");
    }
}
