//! SVG charts of benchmark and soak results (plotters), for docs/.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One line of a chart: its name and its points.
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// A line chart of `series` (with markers) written to `path` as SVG.
pub(crate) fn line_chart(
    path: &Path,
    title: &str,
    labels: (&str, &str),
    series: &[Series],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing(path))?;
    draw_lines(&root, path, title, labels, series)?;
    root.present().map_err(drawing(path))
}

/// Turns plotters' error into one naming the file being drawn.
fn drawing<E: std::fmt::Debug + std::error::Error + Send + Sync>(
    path: &Path,
) -> impl Fn(DrawingAreaErrorKind<E>) -> anyhow::Error + '_ {
    move |error| anyhow::anyhow!("drawing {}: {error:?}", path.display())
}

/// Draws `series` as lines with markers and a legend into `area`.
fn draw_lines(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    series: &[Series],
) -> anyhow::Result<()> {
    let draw = drawing(path);
    let points = || series.iter().flat_map(|s| s.points.iter());
    let x_max = points().map(|p| p.0).fold(0.0, f64::max) * 1.05;
    let y_max = points().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max.max(f64::EPSILON), 0.0..y_max.max(f64::EPSILON))
        .map_err(&draw)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(&draw)?;
    for (s, colour) in series.iter().zip(COLOURS.iter().cycle()) {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(&draw)?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        if s.points.len() <= 40 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(&draw)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(&draw)?;
    Ok(())
}

/// `bench --json` reports of runs at several offered rates, as two charts
/// side by side against the offered load (each run's rate ÷ its own raw
/// recovery rate): what was committed, in the same unit, and the p99 of
/// the Pending answer and of the final status.
pub(crate) fn load_chart(reports: &[super::report::Report], out: &Path) -> anyhow::Result<()> {
    let mut runs: Vec<_> = reports
        .iter()
        .map(|report| {
            let offered = report
                .offered_per_second
                .context("a report of a run without --rate has no offered load")?;
            Ok((offered / report.raw_recover_per_second, report))
        })
        .collect::<anyhow::Result<_>>()?;
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let series = |name: &str, value: fn(&super::report::Report) -> f64| Series {
        name: name.into(),
        points: runs.iter().map(|(x, report)| (*x, value(report))).collect(),
    };
    let root = SVGBackend::new(out, (1200, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing(out))?;
    let (left, right) = root.split_horizontally(600);
    draw_lines(
        &left,
        out,
        "Committed against offered",
        (
            "offered ÷ raw 2-core recover rate",
            "committed ÷ raw recover rate",
        ),
        &[
            series("committed", |r| r.ratio_to_raw),
            Series {
                name: "offered (all committed)".into(),
                points: runs.iter().map(|(x, _)| (*x, *x)).collect(),
            },
        ],
    )?;
    draw_lines(
        &right,
        out,
        "p99 latency against offered",
        ("offered ÷ raw 2-core recover rate", "milliseconds"),
        &[
            series("p99 Pending", |r| r.pending_ms.p99),
            series("p99 final status", |r| r.final_ms.p99),
        ],
    )?;
    root.present().map_err(drawing(out))
}

/// The soak's samples (CSV with a header: seconds, rss_mib, open_files,
/// acknowledged, kills) as a chart of RSS and open files over minutes.
pub(crate) fn soak_chart(samples: &Path, out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(samples)
        .with_context(|| format!("cannot read {}", samples.display()))?;
    let mut rss = Vec::new();
    let mut files = Vec::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<f64> = line
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} line {}: {line}", samples.display(), number + 1))?;
        let [seconds, rss_mib, open_files, ..] = fields[..] else {
            anyhow::bail!("{} line {}: too few fields", samples.display(), number + 1);
        };
        rss.push((seconds / 60.0, rss_mib));
        files.push((seconds / 60.0, open_files));
    }
    line_chart(
        out,
        "Soak: node memory and open files (drops are SIGKILL restarts)",
        ("minutes", "RSS MiB / open files"),
        &[
            Series {
                name: "RSS (MiB)".into(),
                points: rss,
            },
            Series {
                name: "open files".into(),
                points: files,
            },
        ],
    )
}
