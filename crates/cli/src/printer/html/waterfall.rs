//! A timing waterfall, in SVG: a row a hop (an endpoint check's redirects,
//! an SSO chain's hops, a token request), one after the other, each cut
//! into its phases.
//!
//! The report's timings are curl's: each hop's `dns_ms`, `connect_ms`,
//! `proxy_ms`, `tls_ms`, `ttfb_ms` and `total_ms` are measured from that
//! hop's start, so a phase is the span from the previous phase's mark to
//! its own; a hop starts where the one before it ended. [`rows`] turns the
//! marks into spans on the check's time line, [`x`] places them.

use std::borrow::Borrow;
use std::fmt::Write as _;

use reach_report::endpoint::{Hop, Timings};

use super::{duration, escape, shorten};
use crate::printer::timings_line;

/// A part of a hop, in the pipeline's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Dns,
    Connect,
    Proxy,
    Tls,
    /// From the end of the handshake (or the connection) to the first
    /// byte of the answer: the request and the server's wait.
    Ttfb,
    /// From the first byte to the end of the hop.
    Transfer,
    /// From the last phase that ended to the end of a hop that had no
    /// answer: the phase that failed or ran out of time.
    Unfinished,
}

impl Phase {
    const ALL: [Phase; 7] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Proxy,
        Phase::Tls,
        Phase::Ttfb,
        Phase::Transfer,
        Phase::Unfinished,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Proxy => "proxy",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::Transfer => "transfer",
            Phase::Unfinished => "unfinished",
        }
    }
}

/// A phase's span on the check's time line, in ms from the check's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Segment {
    pub(super) phase: Phase,
    pub(super) start_ms: f64,
    pub(super) end_ms: f64,
}

/// One hop on the check's time line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    /// Where the hop starts: the sum of the hops before it.
    pub(super) offset_ms: f64,
    /// The hop's own total.
    pub(super) total_ms: f64,
    pub(super) segments: Vec<Segment>,
}

/// The hops' timings (each from its own start) as spans on one time line.
/// A phase that did not run has no span; the next one starts at the last
/// mark there is. The time after the first byte is the transfer; in a hop
/// that never had one, the time after its last mark is unfinished. Marks never go back: one below the mark before it (or a
/// negative or non-finite one) counts as that mark, and a hop's total is
/// at least its last mark.
pub(super) fn rows(hops: &[Timings]) -> Vec<Row> {
    let mut out = Vec::with_capacity(hops.len());
    let mut offset_ms = 0.0;
    for t in hops {
        let mut segments = Vec::new();
        let mut mark = 0.0_f64;
        let marks = [
            (Phase::Dns, t.dns_ms),
            (Phase::Connect, t.connect_ms),
            (Phase::Proxy, t.proxy_ms),
            (Phase::Tls, t.tls_ms),
            (Phase::Ttfb, t.ttfb_ms),
            (
                if t.ttfb_ms.is_some() {
                    Phase::Transfer
                } else {
                    Phase::Unfinished
                },
                Some(t.total_ms),
            ),
        ];
        for (phase, at) in marks {
            let Some(at) = at.filter(|v| v.is_finite()) else {
                continue;
            };
            let at = at.max(mark);
            if at > mark {
                segments.push(Segment {
                    phase,
                    start_ms: offset_ms + mark,
                    end_ms: offset_ms + at,
                });
            }
            mark = at;
        }
        out.push(Row {
            offset_ms,
            total_ms: mark,
            segments,
        });
        offset_ms += mark;
    }
    out
}

/// `ms` on an axis of `span_ms` drawn `width` wide from `x0`; a span of
/// nothing (or less, or not a number) draws everything at `x0`, and times
/// outside the span stay on the axis (an endless one at its end, one that
/// is not a number at its start).
pub(super) fn x(ms: f64, span_ms: f64, x0: f64, width: f64) -> f64 {
    if span_ms.is_nan() || span_ms <= 0.0 || ms.is_nan() {
        return x0;
    }
    let at = if ms == f64::INFINITY || span_ms == f64::INFINITY {
        // An endless time is at the end; any finite time on an endless
        // axis at its start.
        if ms == f64::INFINITY { 1.0 } else { 0.0 }
    } else {
        ms / span_ms
    };
    x0 + at.clamp(0.0, 1.0) * width
}

/// The most steps an axis has.
const MAX_STEPS: f64 = 10.0;

/// Round tick values for an axis of `span_ms`: 0 and 3 to 6 more steps of
/// 1, 2 or 5 × 10ⁿ ms, the last at or below the span.
pub(super) fn ticks(span_ms: f64) -> Vec<f64> {
    if !span_ms.is_finite() || span_ms <= 0.0 {
        return vec![0.0];
    }
    let rough = span_ms / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| span_ms / s <= 6.0)
        .unwrap_or(10.0 * magnitude);
    // A span so small that its fifth underflows has a step of nothing (and
    // a count of steps past any bound): only the origin then.
    if !step.is_finite() || step <= 0.0 {
        return vec![0.0];
    }
    // Six steps as the step is chosen; never more than ten whatever the
    // rounding does.
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    let steps = (span_ms / step + 1e-9).floor().min(MAX_STEPS) as u32;
    (0..=steps).map(|k| f64::from(k) * step).collect()
}

const WIDTH: f64 = 760.0;
const LABEL: f64 = 190.0;
const RIGHT: f64 = 80.0;
const ROW: f64 = 22.0;
const BAR: f64 = 14.0;
const TOP: f64 = 6.0;

/// The waterfall of `hops`, on an axis at least `check_total_ms` long.
pub(super) fn svg<H: Borrow<Hop>>(out: &mut String, hops: &[H], check_total_ms: f64) {
    if hops.is_empty() {
        return;
    }
    let timings: Vec<Timings> = hops.iter().map(|h| h.borrow().timings).collect();
    let rows = rows(&timings);
    let end = rows.last().map_or(0.0, |r| r.offset_ms + r.total_ms);
    let span = end.max(if check_total_ms.is_finite() {
        check_total_ms
    } else {
        0.0
    });
    let bars = WIDTH - LABEL - RIGHT;
    let axis_y = TOP + ROW * rows.len() as f64 + 2.0;
    let legend_y = axis_y + 30.0;
    let height = legend_y + 8.0;
    let _ = writeln!(
        out,
        "<svg class=\"waterfall\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"timing waterfall\">"
    );
    axis(out, span, axis_y);
    for (i, (row, hop)) in rows.iter().zip(hops).enumerate() {
        let hop = hop.borrow();
        let y = TOP + ROW * i as f64;
        let status = hop
            .http
            .as_ref()
            .and_then(|h| h.status)
            .map_or_else(|| "—".to_owned(), |s| s.to_string());
        let host = url::Url::parse(&hop.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| hop.url.clone());
        let name = format!("{} {status} {host}", i + 1);
        let _ = writeln!(
            out,
            "<g><title>{}</title>\
             <text x=\"0\" y=\"{:.1}\">{}</text>\
             <rect class=\"track\" x=\"{LABEL}\" y=\"{:.1}\" width=\"{bars:.1}\" height=\"{BAR}\"/>",
            escape(&format!(
                "hop {}: {} · total {}",
                i + 1,
                hop.url,
                duration(row.total_ms)
            )),
            y + BAR - 2.0,
            escape(&shorten(&name, 30)),
            y + (ROW - BAR) / 2.0 - 1.0,
        );
        for s in &row.segments {
            let x1 = x(s.start_ms, span, LABEL, bars);
            let x2 = x(s.end_ms, span, LABEL, bars);
            let _ = writeln!(
                out,
                "<rect class=\"ph-{}\" x=\"{x1:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{BAR}\">\
                 <title>{} {}</title></rect>",
                s.phase.name(),
                y + (ROW - BAR) / 2.0 - 1.0,
                (x2 - x1).max(0.5),
                s.phase.name(),
                duration(s.end_ms - s.start_ms)
            );
        }
        let end_x = x(row.offset_ms + row.total_ms, span, LABEL, bars);
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            end_x + 4.0,
            y + BAR - 2.0,
            duration(row.total_ms)
        );
    }
    legend(out, legend_y);
    out.push_str("</svg>\n");
    // The numbers, as text: on paper and in a screenshot a hop is more
    // than the lengths of its bars.
    out.push_str("<ul class=\"timings\">\n");
    for (i, hop) in hops.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li><b>hop {}</b> {}</li>",
            i + 1,
            escape(&timings_line(&hop.borrow().timings, duration))
        );
    }
    out.push_str("</ul>\n");
}

/// The fills of the phases, each a colour and a pattern of its own so that
/// the phases stay apart printed in black and white: one hidden `<svg>` a
/// page, whose patterns every waterfall's bars (and legends) use.
pub(super) fn defs(out: &mut String) {
    out.push_str("<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\"><defs>\n");
    for phase in Phase::ALL {
        let (colour, marks) = match phase {
            Phase::Dns => ("#0969da", ""),
            Phase::Connect => (
                "#bf8700",
                "<path d=\"M0 6L6 0\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
            ),
            Phase::Proxy => (
                "#8250df",
                "<circle cx=\"3\" cy=\"3\" r=\"1.2\" fill=\"#fff\"/>",
            ),
            Phase::Tls => (
                "#bc4c00",
                "<path d=\"M0 0L6 6\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
            ),
            Phase::Ttfb => (
                "#1a7f37",
                "<path d=\"M0 3H6\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
            ),
            Phase::Transfer => (
                "#6e7781",
                "<path d=\"M3 0V6\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
            ),
            Phase::Unfinished => (
                "#f0a8ac",
                "<path d=\"M0 6L6 0M0 0L6 6\" stroke=\"#cf222e\" stroke-width=\"1\"/>",
            ),
        };
        let _ = writeln!(
            out,
            "<pattern id=\"pat-{}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">\
             <rect width=\"6\" height=\"6\" fill=\"{colour}\"/>{marks}</pattern>",
            phase.name()
        );
    }
    out.push_str("</defs></svg>\n");
}

/// The time axis at `axis_y`, with its ticks and their grid lines.
fn axis(out: &mut String, span: f64, axis_y: f64) {
    let bars = WIDTH - LABEL - RIGHT;
    for t in ticks(span) {
        let tx = x(t, span, LABEL, bars);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{axis_y:.1}\"/>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 13.0,
            duration(t)
        );
    }
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LABEL}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\"/>",
        LABEL + bars
    );
}

/// A swatch and the name of every phase, in a row at `y`.
fn legend(out: &mut String, y: f64) {
    let mut lx = LABEL;
    for phase in Phase::ALL {
        let _ = writeln!(
            out,
            "<rect class=\"ph-{0}\" x=\"{lx:.0}\" y=\"{1:.1}\" width=\"10\" height=\"10\"/>\
             <text x=\"{2:.0}\" y=\"{y:.1}\">{0}</text>",
            phase.name(),
            y - 9.0,
            lx + 14.0,
        );
        lx += 74.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        dns: Option<f64>,
        connect: Option<f64>,
        tls: Option<f64>,
        ttfb: Option<f64>,
        total: f64,
    ) -> Timings {
        Timings {
            dns_ms: dns,
            connect_ms: connect,
            tls_ms: tls,
            ttfb_ms: ttfb,
            total_ms: total,
            ..Timings::default()
        }
    }

    fn spans(row: &Row) -> Vec<(Phase, f64, f64)> {
        row.segments
            .iter()
            .map(|s| (s.phase, s.start_ms, s.end_ms))
            .collect()
    }

    #[test]
    fn cumulative_marks_become_consecutive_phases() {
        let rows = rows(&[t(Some(2.0), Some(5.0), Some(12.0), Some(20.0), 21.0)]);
        assert_eq!(
            spans(&rows[0]),
            [
                (Phase::Dns, 0.0, 2.0),
                (Phase::Connect, 2.0, 5.0),
                (Phase::Tls, 5.0, 12.0),
                (Phase::Ttfb, 12.0, 20.0),
                (Phase::Transfer, 20.0, 21.0),
            ]
        );
        assert_eq!((rows[0].offset_ms, rows[0].total_ms), (0.0, 21.0));
    }

    #[test]
    fn redirect_hops_follow_one_another() {
        let rows = rows(&[
            t(Some(1.0), Some(2.0), None, Some(4.0), 5.0),
            t(None, Some(1.0), Some(3.0), Some(6.0), 6.5),
            t(Some(0.5), Some(1.0), None, Some(2.0), 2.0),
        ]);
        let offsets: Vec<f64> = rows.iter().map(|r| r.offset_ms).collect();
        assert_eq!(offsets, [0.0, 5.0, 11.5]);
        // No DNS on the second hop (a literal, an override): it starts with
        // the connection, at the hop's start.
        assert_eq!(
            spans(&rows[1]),
            [
                (Phase::Connect, 5.0, 6.0),
                (Phase::Tls, 6.0, 8.0),
                (Phase::Ttfb, 8.0, 11.0),
                (Phase::Transfer, 11.0, 11.5),
            ]
        );
        // A total equal to the first byte's mark: no transfer span.
        assert_eq!(spans(&rows[2]).last(), Some(&(Phase::Ttfb, 12.5, 13.5)));
        for row in &rows {
            for pair in row.segments.windows(2) {
                assert!((pair[0].end_ms - pair[1].start_ms).abs() < 1e-9, "{row:?}");
            }
        }
    }

    #[test]
    fn a_hop_that_failed_early_has_its_phases_and_the_rest_of_its_time() {
        // DNS answered, the connection timed out at the deadline.
        let rows = rows(&[t(Some(3.0), None, None, None, 3000.0)]);
        assert_eq!(
            spans(&rows[0]),
            [(Phase::Dns, 0.0, 3.0), (Phase::Unfinished, 3.0, 3000.0)]
        );
    }

    #[test]
    fn the_proxy_tunnel_sits_between_connect_and_tls() {
        let timings = Timings {
            proxy_ms: Some(4.0),
            ..t(Some(1.0), Some(2.0), Some(9.0), Some(10.0), 10.0)
        };
        let phases: Vec<Phase> = rows(&[timings])[0]
            .segments
            .iter()
            .map(|s| s.phase)
            .collect();
        assert_eq!(
            phases,
            [
                Phase::Dns,
                Phase::Connect,
                Phase::Proxy,
                Phase::Tls,
                Phase::Ttfb
            ]
        );
    }

    #[test]
    #[allow(clippy::float_cmp)] // exact in binary: whole and half milliseconds
    fn marks_never_go_back() {
        // A total below the TLS mark, a negative and a NaN mark.
        let rows = rows(&[
            t(Some(-1.0), Some(f64::NAN), Some(8.0), None, 5.0),
            t(None, None, None, None, 0.0),
        ]);
        // No first byte and a total below the last mark: nothing is left
        // unfinished (no empty span after the TLS one).
        assert_eq!(spans(&rows[0]), [(Phase::Tls, 0.0, 8.0)]);
        assert!(
            rows[0]
                .segments
                .iter()
                .all(|s| s.phase != Phase::Unfinished)
        );
        assert_eq!(rows[0].total_ms, 8.0);
        assert_eq!((rows[1].offset_ms, rows[1].total_ms), (8.0, 0.0));
        assert!(rows[1].segments.is_empty());
    }

    #[test]
    #[allow(clippy::float_cmp)] // exact in binary: whole pixels
    fn x_scales_and_stays_on_the_axis() {
        assert_eq!(x(0.0, 100.0, 10.0, 200.0), 10.0);
        assert_eq!(x(50.0, 100.0, 10.0, 200.0), 110.0);
        assert_eq!(x(100.0, 100.0, 10.0, 200.0), 210.0);
        assert_eq!(x(150.0, 100.0, 10.0, 200.0), 210.0);
        assert_eq!(x(-5.0, 100.0, 10.0, 200.0), 10.0);
        assert_eq!(x(5.0, 0.0, 10.0, 200.0), 10.0);
        assert_eq!(x(f64::NAN, 100.0, 10.0, 200.0), 10.0);
        assert_eq!(x(5.0, f64::NAN, 10.0, 200.0), 10.0);
        assert_eq!(x(f64::INFINITY, 100.0, 10.0, 200.0), 210.0);
        assert_eq!(x(f64::NEG_INFINITY, 100.0, 10.0, 200.0), 10.0);
        assert_eq!(x(f64::INFINITY, f64::INFINITY, 10.0, 200.0), 210.0);
        assert_eq!(x(5.0, f64::INFINITY, 10.0, 200.0), 10.0);
    }

    #[test]
    fn ticks_are_round_and_within_the_span() {
        for (span, want) in [
            (21.0, &[0.0, 5.0, 10.0, 15.0, 20.0][..]),
            (100.0, &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0][..]),
            (
                3000.0,
                &[0.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0][..],
            ),
            (0.0, &[0.0][..]),
        ] {
            assert_eq!(ticks(span), want, "{span}");
        }
        // Spans whose fifth underflows, the largest there is, and every
        // power of ten between: the origin and at most ten steps, each
        // step positive.
        assert_eq!(ticks(5e-324), [0.0]);
        for span in (-323..=308)
            .map(|e| 10f64.powi(e))
            .chain([f64::MAX, 7.0e-323, 1.5e-322])
        {
            let ticks = ticks(span);
            assert!(
                (1..=11).contains(&ticks.len()),
                "{span}: {} ticks",
                ticks.len()
            );
            assert!(ticks.windows(2).all(|w| w[1] > w[0]), "{span}: {ticks:?}");
            assert!(ticks.iter().all(|t| t.is_finite()), "{span}: {ticks:?}");
        }
        let small = ticks(0.7);
        assert_eq!(small.len(), 4, "{small:?}");
        assert!((small[3] - 0.6).abs() < 1e-9, "{small:?}");
    }

    #[test]
    fn the_drawing_places_bars_on_the_time_line() {
        let hop = |timings: Timings| Hop {
            url: "https://a.test/<x>".to_owned(),
            timings,
            ..Hop::default()
        };
        let hops = [
            hop(t(Some(10.0), Some(20.0), None, Some(40.0), 50.0)),
            hop(t(None, Some(10.0), None, Some(40.0), 50.0)),
        ];
        let mut out = String::new();
        svg(&mut out, &hops, 100.0);
        // The span is 100 ms over 490 px from x = 190: the second hop's
        // connect phase starts at 50 ms, the middle.
        let bars = WIDTH - LABEL - RIGHT;
        let mid = format!("class=\"ph-connect\" x=\"{:.2}\"", LABEL + bars / 2.0);
        assert!(out.contains(&mid), "{out}");
        assert!(out.contains("hop 1: https://a.test/&lt;x&gt;"), "{out}");
        assert!(!out.contains("<x>"), "{out}");
        assert_eq!(out.matches("<rect class=\"ph-").count(), 4 + 3 + 7);
        // Under the drawing, each hop's numbers as text.
        assert!(
            out.contains(
                "<li><b>hop 1</b> dns 10 ms · connect 20 ms · ttfb 40 ms · total 50 ms</li>"
            ),
            "{out}"
        );
        assert!(
            out.contains("<li><b>hop 2</b> connect 10 ms · ttfb 40 ms · total 50 ms</li>"),
            "{out}"
        );
    }
}
