//! Charts for the report, drawn by plotters into inline SVG strings (no network, no files).
//! It must never panic on odd data: empty or non-finite values give an empty chart note instead.

use plotters::prelude::*;

/// One bar: label, value, optional (low, high) whisker, and the colour key (a target name).
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub range: Option<(f64, f64)>,
    pub key: String,
}

/// A stable colour per target.
pub fn colour(key: &str) -> RGBColor {
    let base = key.split(' ').next().unwrap_or(key);
    match base {
        "native" => RGBColor(120, 120, 120),
        "isola-container" => RGBColor(31, 119, 180),
        "isola-wasm" => RGBColor(214, 39, 40),
        "runc" => RGBColor(44, 160, 44),
        "crun" => RGBColor(148, 103, 189),
        "youki" => RGBColor(140, 86, 75),
        "wasmtime" => RGBColor(255, 127, 14),
        "wasmer-cranelift" => RGBColor(188, 189, 34),
        "wasmer-llvm" => RGBColor(227, 119, 194),
        "geomean" => RGBColor(0, 0, 0),
        _ => RGBColor(23, 190, 207),
    }
}

/// A horizontal bar chart with whiskers and an optional vertical reference line.
pub fn bars(title: &str, x_desc: &str, bars: &[Bar], reference: Option<(f64, &str)>) -> String {
    let bars: Vec<&Bar> = bars.iter().filter(|b| b.value.is_finite() && b.value >= 0.0).collect();
    if bars.is_empty() {
        return format!("<p class=\"note\">{}: no data</p>", crate::report::esc(title));
    }
    let mut max = bars.iter().map(|b| b.range.map(|r| r.1).unwrap_or(b.value).max(b.value)).fold(0.0f64, f64::max);
    if let Some((r, _)) = reference {
        max = max.max(r);
    }
    let max = if max > 0.0 { max * 1.12 } else { 1.0 };
    let n = bars.len() as i32;
    let height = 90 + 30 * bars.len() as u32;
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::with_string(&mut svg, (820, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(230)
            .build_cartesian_2d(0f64..max, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_desc)
            .y_labels(bars.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .label_style(("sans-serif", 13))
            .draw()?;
        for (i, b) in bars.iter().enumerate() {
            chart.draw_series(
                Histogram::horizontal(&chart).style(colour(&b.key).filled()).margin(6).data(std::iter::once((i as i32, b.value))),
            )?;
            if let Some((lo, hi)) = b.range {
                chart.draw_series(std::iter::once(ErrorBar::new_horizontal(
                    SegmentValue::CenterOf(i as i32),
                    lo,
                    b.value,
                    hi,
                    BLACK.stroke_width(1),
                    8,
                )))?;
            }
            chart.draw_series(std::iter::once(Text::new(
                format_value(b.value),
                (b.range.map(|r| r.1).unwrap_or(b.value).max(b.value) + max * 0.01, SegmentValue::CenterOf(i as i32)),
                ("sans-serif", 12),
            )))?;
        }
        if let Some((r, name)) = reference {
            chart
                .draw_series(LineSeries::new(vec![(r, SegmentValue::Exact(0)), (r, SegmentValue::Last)], RED.stroke_width(2)))?
                .label(name.to_string())
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
            chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).position(SeriesLabelPosition::LowerRight).draw()?;
        }
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(e) => format!("<p class=\"note\">{}: chart failed: {}</p>", crate::report::esc(title), crate::report::esc(&e.to_string())),
    }
}

fn format_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_is_an_svg_with_labels() {
        let b = vec![
            Bar { label: "native".into(), value: 0.5, range: Some((0.4, 0.7)), key: "native".into() },
            Bar { label: "isola-wasm (warm)".into(), value: 2.0, range: None, key: "isola-wasm".into() },
        ];
        let svg = bars("startup", "ms", &b, Some((1.0, "crun")));
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.contains("isola-wasm (warm)"));
        assert!(bars("empty", "ms", &[], None).contains("no data"));
    }
}
