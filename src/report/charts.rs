//! PNG charts (plotters, bitmap backend). Fonts ship inside the binary; the
//! palette is Okabe-Ito (colour-blind safe) and every approach also has its
//! own marker, so nothing depends on colour alone.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::analysis::{Analysis, Fit, Group};
use crate::core::metric::Metric;
use crate::core::numbers::{delay_label, level, thousands_f};
use crate::io::atomic::write_atomic;
use crate::stats::univariate::sorted;

pub const WIDTH: u32 = 1400;
pub const HEIGHT: u32 = 900;
const FONT: &str = "sans-serif";

static FONTS: Once = Once::new();

fn register_fonts() {
    FONTS.call_once(|| {
        let normal: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        let bold: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, normal)
            .ok()
            .expect("bundled font parses");
        plotters::style::register_font(FONT, FontStyle::Bold, bold)
            .ok()
            .expect("bundled font parses");
    });
}

const PALETTE: [RGBColor; 7] = [
    RGBColor(213, 94, 0),    // vermillion: the baseline
    RGBColor(0, 114, 178),   // blue
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),
];

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
}

const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Diamond,
];

struct Look {
    color: RGBColor,
    marker: Marker,
}

fn look(a: &Analysis, approach: &str) -> Look {
    let i = a.approaches.iter().position(|x| x == approach).unwrap_or(0);
    Look {
        color: PALETTE[i % PALETTE.len()],
        marker: MARKERS[i % MARKERS.len()],
    }
}

/// Vertices of a marker around (0, 0), in pixels: one polygon type for every
/// shape keeps the drawing code free of dynamic dispatch.
fn shape(m: Marker, size: i32) -> Vec<(i32, i32)> {
    let s = size + 1;
    match m {
        Marker::Circle => (0..16)
            .map(|i| {
                let t = i as f64 * std::f64::consts::TAU / 16.0;
                (
                    (size as f64 * t.cos()).round() as i32,
                    (size as f64 * t.sin()).round() as i32,
                )
            })
            .collect(),
        Marker::Triangle => vec![(0, -s), (-s, s * 2 / 3), (s, s * 2 / 3)],
        Marker::Square => vec![(-size, -size), (size, -size), (size, size), (-size, size)],
        Marker::Diamond => vec![(0, -s), (s, 0), (0, s), (-s, 0)],
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Confidence intervals as vertical bars with caps, `(x, low, high)` each.
fn ci_bars<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    bars: &[(f64, f64, f64)],
    style: ShapeStyle,
    cap: i32,
) -> Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(
            bars.iter()
                .map(|(x, lo, hi)| PathElement::new(vec![(*x, *lo), (*x, *hi)], style)),
        )
        .map_err(err)?;
    for end in [1, 2] {
        chart
            .draw_series(bars.iter().map(|b| {
                let y = if end == 1 { b.1 } else { b.2 };
                EmptyElement::at((b.0, y)) + PathElement::new(vec![(-cap, 0), (cap, 0)], style)
            }))
            .map_err(err)?;
    }
    Ok(())
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw chart: {e}")
}

/// Largest magnitude a chart plots. plotters steps through an axis in f64
/// to place its ticks, so an infinite bound never ends. Past 1e15 (ms or USD, far beyond any real figure here) a value
/// is left out, and a chart with nothing left says so instead.
const PLOTTABLE: f64 = 1e15;

fn plottable(v: f64) -> bool {
    v.is_finite() && v.abs() <= PLOTTABLE
}

/// Smallest and largest of the plottable `values`; `None` when there are none.
fn bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| plottable(*v))
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
        })
}

/// A chart's place when there is nothing it can draw: the reason, centred.
fn note(area: &Area, text: &str) -> Result<()> {
    let style = centered((FONT, 28).into_font().into());
    let (w, h) = area.dim_in_pixel();
    area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(err)
}

/// The chart of a metric, in `charts/`: the report links it by this name.
pub fn file_name(metric: Metric) -> String {
    match metric {
        Metric::DoWall => "do_wall_by_delay.png".into(),
        Metric::Cost => "cost_vs_delay.png".into(),
        Metric::Span => "span_ecdf.png".into(),
        Metric::WorkerCpu => "worker_cpu.png".into(),
        Metric::ClientLatency => "client_latency.png".into(),
        other => format!("{}_by_delay.png", other.column()),
    }
}

/// Writes the chart of each of `metrics` into `dir`; returns the files written.
pub fn write_all(a: &Analysis, metrics: &[Metric], dir: &Path) -> Result<Vec<PathBuf>> {
    register_fonts();
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for &metric in metrics {
        let path = dir.join(file_name(metric));
        let png = draw_png(a, metric).with_context(|| format!("chart {}", path.display()))?;
        write_atomic(&path, &png)?;
        out.push(path);
    }
    Ok(out)
}

/// Draws the chart of `metric`: cost against delay with its fits, the
/// distribution of a latency per delay, else the requests by delay.
fn draw(a: &Analysis, metric: Metric, root: &Area) -> Result<()> {
    match metric {
        Metric::Cost => cost(a, root),
        Metric::Span | Metric::ClientLatency => latency_ecdf(a, root, metric),
        Metric::WorkerCpu => worker_cpu(a, root),
        Metric::DoWall => do_wall(a, root),
        other => {
            let groups: Vec<&Group> = a.groups.iter().collect();
            let title = format!("{other} per request: {}", other.meaning());
            let y = format!("{} per request ({})", other.column(), other.unit().label());
            points_by_delay(a, root, other, &title, &y, false, &groups)
        }
    }
}

/// One chart as PNG bytes, drawn in memory.
fn draw_png(a: &Analysis, metric: Metric) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut pixels = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(a, metric, &root)?;
        root.present().map_err(err)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &pixels,
        WIDTH,
        HEIGHT,
        image::ColorType::Rgb8,
    )?;
    Ok(png)
}

/// Horizontal offset of an approach within a delay's slot, so bars do not overlap.
fn offset(a: &Analysis, approach: &str, spread: f64) -> f64 {
    let i = a.approaches.iter().position(|x| x == approach).unwrap_or(0) as f64;
    let m = a.approaches.len() as f64;
    (i - (m - 1.0) / 2.0) * spread
}

fn slot(a: &Analysis, delay: i64) -> f64 {
    a.delays.iter().position(|d| *d == delay).unwrap_or(0) as f64
}

/// Deterministic jitter for request dots.
fn jitter(i: usize) -> f64 {
    ((i as f64 * 0.618_033_988_75).fract() - 0.5) * 0.08
}

fn title_style() -> TextStyle<'static> {
    (FONT, 30).into_font().style(FontStyle::Bold).into()
}

fn centered(style: TextStyle<'static>) -> TextStyle<'static> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    style.pos(Pos::new(HPos::Center, VPos::Center))
}

/// Draws a title band over a multi-panel chart; returns the area below it.
fn titled<'a>(root: &Area<'a>, title: &str) -> Result<Area<'a>> {
    let height = 60;
    let (top, rest) = root.split_vertically(height);
    top.draw_text(
        title,
        &centered(title_style()),
        (WIDTH as i32 / 2, height / 2),
    )
    .map_err(err)?;
    Ok(rest)
}

/// Per approach and delay: every request as a faint dot, the mean as a marker
/// with its interval. A log axis leaves out values of 0 or less, which it
/// cannot place.
fn points_by_delay(
    a: &Analysis,
    root: &Area,
    metric: Metric,
    title: &str,
    y_desc: &str,
    log: bool,
    groups: &[&Group],
) -> Result<()> {
    let shows = |v: f64| plottable(v) && (!log || v > 0.0);
    let values = groups.iter().flat_map(|g| g.column(metric).iter());
    let Some((min, max)) = bounds(values.filter(|v| shows(*v))) else {
        return note(root, &format!("{title}: no value that can be drawn"));
    };
    let k = a.delays.len() as f64;
    let x_range = -0.5..(k - 0.5);
    let formatter = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < a.delays.len() {
            delay_label(a.delays[i as usize])
        } else {
            String::new()
        }
    };
    let approaches: Vec<&String> = a
        .approaches
        .iter()
        .filter(|ap| groups.iter().any(|g| &g.approach == *ap))
        .collect();
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("fetch delay (the endpoint's artificial latency)")
                .y_desc(y_desc)
                .x_labels(a.delays.len() * 2 + 1)
                .x_label_formatter(&formatter)
                .y_label_formatter(&|y: &f64| thousands_f(*y))
                .label_style((FONT, 18))
                .axis_desc_style((FONT, 20))
                .disable_x_mesh()
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            for ap in &approaches {
                approach_points(&mut chart, a, ap, groups, metric, &shows)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .margin(12)
                .label_font((FONT, 18))
                .background_style(WHITE.mix(0.92))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(err)?;
        }};
    }
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, title_style())
        .margin(24)
        .x_label_area_size(70)
        .y_label_area_size(100);
    if log {
        let low = min.max(0.1) / 1.6;
        let y = low..(max * 3.0).max(low * 10.0);
        draw!(builder
            .build_cartesian_2d(x_range, y.log_scale())
            .map_err(err)?);
    } else {
        let y = (min.min(0.0) * 1.5)..(max * 1.5).max(1.0);
        draw!(builder.build_cartesian_2d(x_range, y).map_err(err)?);
    }
    Ok(())
}

/// One approach's requests as faint dots and each delay's mean as a marker
/// with its interval, on a chart with a delay slot per x unit.
fn approach_points<'a, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    a: &Analysis,
    ap: &str,
    groups: &[&Group],
    metric: Metric,
    shows: &dyn Fn(f64) -> bool,
) -> Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    let l = look(a, ap);
    let dx = offset(a, ap, 0.18);
    let dots = groups.iter().filter(|g| g.approach == ap).flat_map(|g| {
        let x = slot(a, g.delay_ms) + dx;
        (g.column(metric).iter().enumerate())
            .map(move |(i, v)| (x + jitter(i), v))
            .filter(|(_, v)| shows(*v))
    });
    chart
        .draw_series(dots.map(|p| Circle::new(p, 2, l.color.mix(0.3).filled())))
        .map_err(err)?;
    let rows: Vec<_> = (a.summary.iter())
        .filter(|r| r.approach == ap && r.metric == metric && shows(r.mean.value))
        .collect();
    let bars: Vec<_> = (rows.iter())
        .filter(|r| shows(r.mean.ci.low) && shows(r.mean.ci.high))
        .map(|r| (slot(a, r.delay_ms) + dx, r.mean.ci.low, r.mean.ci.high))
        .collect();
    ci_bars(chart, &bars, l.color.stroke_width(3), 8)?;
    chart
        .draw_series(rows.iter().map(|r| {
            EmptyElement::at((slot(a, r.delay_ms) + dx, r.mean.value))
                + Polygon::new(shape(l.marker, 7), l.color.filled())
        }))
        .map_err(err)?
        .label(match a.point_estimates {
            true => format!("{ap}: mean, dots = requests"),
            false => format!("{ap}: mean with {}, dots = requests", a.interval_label()),
        })
        .legend(move |(x, y)| {
            EmptyElement::at((x + 12, y)) + Polygon::new(shape(l.marker, 7), l.color.filled())
        });
    Ok(())
}

fn do_wall(a: &Analysis, root: &Area) -> Result<()> {
    let groups: Vec<&Group> = a.groups.iter().collect();
    points_by_delay(
        a,
        root,
        Metric::DoWall,
        "Billed Durable Object wall time per request",
        "DO wall time per request (ms, log scale)",
        true,
        &groups,
    )
}

fn worker_cpu(a: &Analysis, root: &Area) -> Result<()> {
    let groups: Vec<&Group> = a
        .groups
        .iter()
        .filter(|g| g.column(Metric::WorkerCpu).iter().any(|v| v > 0.0))
        .collect();
    if groups.is_empty() {
        let style = centered((FONT, 28).into_font().into());
        root.draw_text(
            "No Worker legs: no approach here bills Worker CPU",
            &style,
            (WIDTH as i32 / 2, HEIGHT as i32 / 2),
        )
        .map_err(err)?;
        return Ok(());
    }
    points_by_delay(
        a,
        root,
        Metric::WorkerCpu,
        "Billed Worker CPU time per request (approaches with Worker legs)",
        "Worker CPU per request (ms)",
        false,
        &groups,
    )
}

fn cost(a: &Analysis, root: &Area) -> Result<()> {
    let max_delay = (*a.delays.last().unwrap_or(&1) as f64).max(1.0);
    let rest = titled(root, "Cost per million requests against fetch delay")?;
    if !plottable(max_delay) {
        return note(&rest, "The delays are too large to draw");
    }
    // Left: every delay measured. Right: around the break-even, where the lines cross.
    let crossings: Vec<f64> = a
        .breakeven
        .iter()
        .filter_map(|b| b.delay_ms)
        .filter(|x| (0.0..=max_delay).contains(x))
        .collect();
    let zoom_to = crossings.iter().fold(0.0_f64, |m, x| m.max(*x)) * 2.0;
    if zoom_to > 0.0 && zoom_to < max_delay * 0.6 {
        let (left, right) = rest.split_horizontally((WIDTH as f64 * 0.55) as u32);
        cost_panel(a, &left, 0.0, max_delay, "all delays", true)?;
        cost_panel(a, &right, 0.0, zoom_to, "zoom on the break-even", false)?;
    } else {
        cost_panel(a, &rest, 0.0, max_delay, "all delays", true)?;
    }
    Ok(())
}

/// The legend of a fitted line: what its band and bars are, at the configured level.
fn fit_label(a: &Analysis, f: &super::analysis::Fit) -> String {
    let ci = a.interval_label();
    if a.point_estimates {
        format!("{}: least squares fit; mean per delay", f.approach)
    } else if f.band.is_empty() {
        format!(
            "{}: least squares fit (no band: a delay with a single request); mean per delay, {ci}",
            f.approach
        )
    } else {
        let lv = level(a.confidence);
        format!(
            "{}: least squares fit, {lv} band; mean per delay, {ci}",
            f.approach
        )
    }
}

fn cost_panel(
    a: &Analysis,
    area: &Area,
    from: f64,
    to: f64,
    caption: &str,
    legend: bool,
) -> Result<()> {
    let in_range = |x: f64| (from..=to).contains(&x);
    let costs = (a.summary.iter())
        .filter(|r| r.metric == Metric::Cost && in_range(r.delay_ms as f64))
        .flat_map(|r| [r.mean.value, r.mean.ci.high]);
    let lines = (a.fits.iter()).flat_map(|f| [f.line.at(from), f.line.at(to)]);
    let Some((_, y_max)) = bounds(costs.chain(lines)) else {
        return note(area, "No cost that can be drawn");
    };
    let y_top = (y_max * 1.15).max(0.01);
    let pad = (to - from) * 0.02;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 22))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d((from - pad)..(to + pad), 0.0..y_top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("fetch delay (ms)")
        .y_desc("cost (USD per million requests)")
        .x_labels(6)
        .x_label_formatter(&|x: &f64| thousands_f(*x))
        .y_label_formatter(&|y: &f64| format!("${y:.2}"))
        .label_style((FONT, 17))
        .axis_desc_style((FONT, 19))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for f in &a.fits {
        cost_fit(&mut chart, a, f, (from, to))?;
    }
    if !legend {
        breakeven_labels(&mut chart, a, (from, to), y_top)?;
    } else {
        breakeven_lines(&mut chart, a, (from, to), y_top)?;
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .margin(12)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.92))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

type CostChart<'a> =
    ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// An approach's fitted cost line with its band, and its measured means.
fn cost_fit(chart: &mut CostChart, a: &Analysis, f: &Fit, (from, to): (f64, f64)) -> Result<()> {
    let in_range = |x: f64| (from..=to).contains(&x);
    let l = look(a, &f.approach);
    let band: Vec<_> = (f.band.iter())
        .filter(|(x, lo, hi)| in_range(*x) && plottable(*lo) && plottable(*hi))
        .collect();
    let mut outline: Vec<(f64, f64)> = band.iter().map(|(x, lo, _)| (*x, *lo)).collect();
    outline.extend(band.iter().rev().map(|(x, _, hi)| (*x, *hi)));
    if !outline.is_empty() {
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                l.color.mix(0.18).filled(),
            )))
            .map_err(err)?;
    }
    let line = (0..=200)
        .map(|i| from + (to - from) * i as f64 / 200.0)
        .map(|x| (x, f.line.at(x)))
        .filter(|(_, y)| plottable(*y));
    chart
        .draw_series(LineSeries::new(line, l.color.stroke_width(3)))
        .map_err(err)?
        .label(fit_label(a, f))
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (24, 0)], l.color.stroke_width(3))
                + Polygon::new(
                    shape(l.marker, 6)
                        .into_iter()
                        .map(|(px, py)| (px + 12, py))
                        .collect::<Vec<_>>(),
                    l.color.filled(),
                )
        });
    let rows: Vec<_> = a
        .summary
        .iter()
        .filter(|r| {
            r.approach == f.approach
                && r.metric == Metric::Cost
                && in_range(r.delay_ms as f64)
                && plottable(r.mean.value)
        })
        .collect();
    let bars: Vec<_> = rows
        .iter()
        .filter(|r| plottable(r.mean.ci.low) && plottable(r.mean.ci.high))
        .map(|r| (r.delay_ms as f64, r.mean.ci.low, r.mean.ci.high))
        .collect();
    ci_bars(chart, &bars, l.color.stroke_width(2), 7)?;
    chart
        .draw_series(rows.iter().map(|r| {
            EmptyElement::at((r.delay_ms as f64, r.mean.value))
                + Polygon::new(shape(l.marker, 6), l.color.filled())
        }))
        .map_err(err)?;
    Ok(())
}

/// Each break-even delay in range as a dashed line.
fn breakeven_lines(
    chart: &mut CostChart,
    a: &Analysis,
    (from, to): (f64, f64),
    y_top: f64,
) -> Result<()> {
    for b in &a.breakeven {
        let Some(x) = b.delay_ms.filter(|x| (from..=to).contains(x)) else {
            continue;
        };
        let style = look(a, &b.approach).color.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, 0.0), (x, y_top)],
                8,
                6,
                style,
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// The dashed lines, each labelled below the baseline's rising line, right of
/// the crossings: an empty corner.
fn breakeven_labels(
    chart: &mut CostChart,
    a: &Analysis,
    (from, to): (f64, f64),
    y_top: f64,
) -> Result<()> {
    breakeven_lines(chart, a, (from, to), y_top)?;
    let shown = (a.breakeven.iter())
        .filter_map(|b| Some((b, b.delay_ms.filter(|x| (from..=to).contains(x))?)));
    for (row, (b, x)) in shown.enumerate() {
        let l = look(a, &b.approach);
        let ci = b.ci.map_or(String::new(), |c| {
            let (low, high) = (thousands_f(c.low), thousands_f(c.high));
            format!("{} {low}-{high} ms", a.interval_label())
        });
        let lines = [
            format!("{} pays off above {} ms", b.approach, thousands_f(x)),
            ci,
        ];
        for (i, text) in lines.into_iter().enumerate() {
            let y = y_top * (0.3 - 0.1 * row as f64 - 0.04 * i as f64);
            let at = (from + (to - from) * 0.535, y);
            let font = (FONT, 16).into_font().color(&l.color);
            chart
                .draw_series(std::iter::once(Text::new(text, at, font)))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The cumulative share of requests by `metric` (a latency), a panel per delay.
fn latency_ecdf(a: &Analysis, root: &Area, metric: Metric) -> Result<()> {
    let title = format!(
        "{} ({metric}): cumulative share of requests, per fetch delay",
        match metric {
            Metric::ClientLatency => "Client latency",
            _ => "End-to-end latency",
        }
    );
    let rest = titled(root, &title)?;
    let cols = a.delays.len().clamp(1, 3);
    let rows = a.delays.len().div_ceil(cols).max(1);
    let panels = rest.split_evenly((rows, cols));
    for (p, &delay) in panels.iter().zip(&a.delays) {
        let groups: Vec<&Group> = a.groups.iter().filter(|g| g.delay_ms == delay).collect();
        let all = groups.iter().flat_map(|g| g.column(metric).iter());
        let Some((lo, hi)) = bounds(all) else {
            continue;
        };
        let pad = ((hi - lo) * 0.05).max(1.0);
        let mut chart = ChartBuilder::on(p)
            .caption(format!("fetch delay {}", delay_label(delay)), (FONT, 22))
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..1.02)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{metric} (ms)"))
            .y_desc("share of requests")
            .x_labels(5)
            .y_labels(6)
            .x_label_formatter(&|x: &f64| thousands_f(*x))
            .y_label_formatter(&|y: &f64| format!("{:.0}%", y * 100.0))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for g in &groups {
            let l = look(a, &g.approach);
            let s: Vec<f64> = (sorted(&g.get(metric)).into_iter())
                .filter(|v| plottable(*v))
                .collect();
            let n = s.len() as f64;
            let mut steps = vec![(lo - pad, 0.0)];
            for (i, v) in s.iter().enumerate() {
                steps.push((*v, i as f64 / n));
                steps.push((*v, (i + 1) as f64 / n));
            }
            steps.push((hi + pad, 1.0));
            chart
                .draw_series(LineSeries::new(steps, l.color.stroke_width(3)))
                .map_err(err)?
                .label(g.approach.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], l.color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .margin(8)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.92))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::analysis::{BreakevenRow, SummaryRow, NO_INTERVAL};
    use crate::stats::bootstrap::{Estimate, Interval};
    use crate::stats::regression::Line;
    use crate::stats::univariate::describe;

    /// An analysis whose every number is one no axis can hold.
    fn hostile() -> Analysis {
        let values = [
            f64::INFINITY,
            f64::NAN,
            f64::NEG_INFINITY,
            1e300,
            -1e300,
            0.0,
        ];
        let group = |approach: &str, delay_ms| Group {
            approach: approach.into(),
            delay_ms,
            values: (Metric::OF_LEGS.iter())
                .map(|m| (*m, values.to_vec().into()))
                .collect::<BTreeMap<_, _>>(),
            ..Group::default()
        };
        let groups = vec![
            group("direct", 100),
            group("simple", 100),
            group("simple", 1000),
        ];
        let estimate = |value, low, high| Estimate {
            value,
            ci: Interval { low, high },
        };
        let summary = (groups.iter())
            .flat_map(|g| Metric::OF_LEGS.iter().map(move |m| (g, *m)))
            .enumerate()
            .map(|(i, (g, metric))| SummaryRow {
                approach: g.approach.clone(),
                delay_ms: g.delay_ms,
                metric,
                describe: describe(&values),
                mean: estimate(values[i % 6], values[(i + 1) % 6], values[(i + 2) % 6]),
                median: estimate(f64::NAN, NO_INTERVAL.low, NO_INTERVAL.high),
            })
            .collect();
        let fit = |approach: &str, intercept| Fit {
            approach: approach.into(),
            line: Line {
                intercept,
                slope: f64::INFINITY,
            },
            band: vec![
                (100.0, f64::NEG_INFINITY, f64::NAN),
                (1000.0, 1e300, f64::INFINITY),
            ],
        };
        Analysis {
            approaches: vec!["direct".into(), "simple".into()],
            delays: vec![100, 1000],
            groups,
            summary,
            comparisons: Vec::new(),
            breakeven: vec![BreakevenRow {
                approach: "simple".into(),
                baseline: "direct".into(),
                delay_ms: Some(500.0),
                ci: Some(Interval {
                    low: f64::NAN,
                    high: f64::INFINITY,
                }),
                note: String::new(),
            }],
            claims: Vec::new(),
            other_billing: Default::default(),
            fits: vec![fit("direct", f64::NAN), fit("simple", 1e300)],
            has_client_latency: false,
            confidence: 0.9,
            point_estimates: false,
        }
    }

    /// plotters loops for ever on an infinite axis (a `do_wall_ms = inf`
    /// price hung a report for more than 10 minutes) and panics on a NaN
    /// one: no such value may reach it.
    #[test]
    fn values_no_axis_can_hold_never_reach_plotters() {
        let dir = tempfile::tempdir().unwrap();
        let charts = dir.path().join("charts");
        let (done, result) = std::sync::mpsc::channel();
        let target = charts.clone();
        let all: Vec<Metric> = Metric::OF_LEGS
            .into_iter()
            .chain([Metric::ClientLatency])
            .collect();
        let drawing = all.clone();
        std::thread::spawn(move || {
            let drawn = std::panic::catch_unwind(|| {
                write_all(&hostile(), &drawing, &target).map(|f| f.len())
            });
            let _ = done.send(drawn.map_err(|_| "panicked"));
        });
        let drawn = result
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("charts drawn within 2 minutes");
        assert_eq!(drawn.expect("no panic").expect("charts written"), all.len());
        let mut names: Vec<String> = (std::fs::read_dir(&charts).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want: Vec<String> = all.iter().map(|m| file_name(*m)).collect();
        want.sort();
        assert_eq!(names, want, "a chart per metric and nothing else");
    }
}
