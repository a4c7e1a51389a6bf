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
    (x_label, y_label): (&str, &str),
    series: &[Series],
) -> anyhow::Result<()> {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let x_max = points().map(|p| p.0).fold(0.0, f64::max) * 1.05;
    let y_max = points().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    let draw =
        |error: DrawingAreaErrorKind<_>| anyhow::anyhow!("drawing {}: {error:?}", path.display());
    root.fill(&WHITE).map_err(draw)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max.max(1.0), 0.0..y_max.max(1.0))
        .map_err(draw)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(draw)?;
    for (s, colour) in series.iter().zip(COLOURS.iter().cycle()) {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(draw)?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        if s.points.len() <= 40 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(draw)?;
        }
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(draw)?;
    root.present().map_err(draw)?;
    Ok(())
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
