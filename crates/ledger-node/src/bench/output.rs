//! Where a bench command writes. `--json PATH` means the same everywhere:
//! the report as JSON to that file, or to stdout for `-`; the text for
//! people goes to stdout, or to stderr when stdout carries the JSON.
//! Progress bars go to stderr, and only to a terminal.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use serde::Serialize;

/// Where `--json` sends the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JsonTo {
    /// `--json -`.
    Stdout,
    /// `--json PATH`.
    File(PathBuf),
}

impl FromStr for JsonTo {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<JsonTo, Self::Err> {
        Ok(match text {
            "-" => JsonTo::Stdout,
            path => JsonTo::File(PathBuf::from(path)),
        })
    }
}

/// A bench command's two outputs.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    json: Option<JsonTo>,
}

impl Output {
    pub(crate) fn new(json: Option<JsonTo>) -> Output {
        Output { json }
    }

    /// A line (or lines) for people.
    pub(crate) fn text(&self, text: &str) {
        if self.json == Some(JsonTo::Stdout) {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// The report, if `--json` asked for it.
    pub(crate) fn json<T: Serialize>(&self, report: &T) -> anyhow::Result<()> {
        match &self.json {
            None => Ok(()),
            Some(JsonTo::Stdout) => {
                println!("{}", serde_json::to_string_pretty(report)?);
                Ok(())
            }
            Some(JsonTo::File(path)) => {
                std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")
                    .with_context(|| format!("cannot write {}", path.display()))
            }
        }
    }

    /// A JSON line of a series (`bench verify`), if `--json` asked for it.
    pub(crate) fn json_line<T: Serialize>(&self, line: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string(line)?;
        match &self.json {
            None => Ok(()),
            Some(JsonTo::Stdout) => {
                println!("{text}");
                Ok(())
            }
            Some(JsonTo::File(path)) => {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))
            }
        }
    }

    /// A progress bar of `len` steps with `template`, drawn on stderr when
    /// it is a terminal and stdout does not carry the JSON; hidden otherwise.
    pub(crate) fn progress(&self, len: u64, template: &str) -> indicatif::ProgressBar {
        if self.json == Some(JsonTo::Stdout) {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }
}
