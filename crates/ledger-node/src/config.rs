//! Where `ledger-node run` takes its options from, first to last: the
//! command line, `LEDGER_*` environment variables (`--data-dir` is
//! `LEDGER_DATA_DIR`), a TOML file (`--config FILE`, keys named as the
//! long options: `data-dir = "…"`), then the built-in defaults.
//!
//! clap reads the command line, the environment and defaults itself; the
//! file's values become the options' defaults before the command line is
//! read again, so that order holds without a second set of rules.
//! `run --print-config` shows the outcome with where each value came from.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// The prefix of the environment variables of `run`'s options.
pub(crate) const ENV_PREFIX: &str = "LEDGER_";

/// Options that are not settings of a node: no environment variable, no
/// key in the file.
const NOT_SETTINGS: [&str; 3] = ["help", "print-config", "config"];

/// The environment variable of `run`'s option `--long`.
pub(crate) fn env_name(long: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        long.to_ascii_uppercase().replace('-', "_")
    )
}

/// `cli` with an environment variable for every option of its `run`
/// subcommand (and `LEDGER_CONFIG` for `--config`).
pub(crate) fn with_run_env(cli: Command) -> Command {
    cli.mut_subcommand("run", |run| {
        let longs: Vec<(clap::Id, String)> = run
            .get_arguments()
            .filter_map(|arg| Some((arg.get_id().clone(), arg.get_long()?.to_owned())))
            .filter(|(_, long)| long == "config" || !NOT_SETTINGS.contains(&long.as_str()))
            .collect();
        longs.into_iter().fold(run, |run, (id, long)| {
            run.mut_arg(id, |arg| arg.env(env_name(&long)))
        })
    })
}

/// A config file: `run`'s long option names and their values.
pub(crate) struct ConfigFile {
    path: PathBuf,
    values: Vec<(String, Vec<String>)>,
    /// `run`'s long options in the order it declares them (giving an
    /// option a default moves it last in clap's list).
    order: Vec<String>,
}

impl ConfigFile {
    /// Reads and checks `path` against the options of `run`.
    pub(crate) fn read(path: &Path, run: &Command) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
            anyhow::anyhow!(
                "config file {}: {}",
                path.display(),
                crate::failure::fold(error.message())
            )
        })?;
        let mut values = Vec::new();
        for (key, value) in table {
            let Some(arg) = run
                .get_arguments()
                .find(|arg| arg.get_long() == Some(key.as_str()))
                .filter(|_| !NOT_SETTINGS.contains(&key.as_str()))
            else {
                bail!(
                    "config file {}: `{key}` is not an option of `ledger-node run` \
                     (keys are its long options, e.g. data-dir; `ledger-node run --help` lists them)",
                    path.display()
                );
            };
            let many = arg.get_value_delimiter().is_some();
            let texts = match value {
                toml::Value::Array(items) if many => {
                    items.iter().map(scalar).collect::<Option<Vec<_>>>()
                }
                value => scalar(&value).map(|text| vec![text]),
            };
            let Some(texts) = texts else {
                bail!(
                    "config file {}: `{key}` takes {}",
                    path.display(),
                    if many {
                        "a value or a list of values"
                    } else {
                        "a single value (text, number or true/false)"
                    }
                );
            };
            values.push((key, texts));
        }
        Ok(ConfigFile {
            path: path.to_owned(),
            values,
            order: run
                .get_arguments()
                .filter_map(|arg| arg.get_long().map(str::to_owned))
                .collect(),
        })
    }

    /// `cli` with the file's values as the defaults of `run`'s options.
    pub(crate) fn apply(&self, cli: Command) -> Command {
        cli.mut_subcommand("run", |run| {
            self.values.iter().fold(run, |run, (key, texts)| {
                let id = run
                    .get_arguments()
                    .find(|arg| arg.get_long() == Some(key.as_str()))
                    .map(|arg| arg.get_id().clone());
                match id {
                    Some(id) => run.mut_arg(id, |arg| arg.default_values(texts.clone())),
                    None => run,
                }
            })
        })
    }

    /// Whether the file sets `long`.
    fn sets(&self, long: &str) -> bool {
        self.values.iter().any(|(key, _)| key == long)
    }
}

/// A TOML scalar as the text the command line would carry.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The path `run --config` names (on the command line or in
/// `LEDGER_CONFIG`), once the command line was read.
pub(crate) fn config_path(matches: &ArgMatches) -> Option<PathBuf> {
    let (name, run) = matches.subcommand()?;
    (name == "run")
        .then(|| run.get_one::<PathBuf>("config").cloned())
        .flatten()
}

/// Whether `run --print-config` was asked for.
pub(crate) fn print_asked(matches: &ArgMatches) -> bool {
    matches
        .subcommand()
        .filter(|(name, _)| *name == "run")
        .is_some_and(|(_, run)| run.get_flag("print_config"))
}

/// The options `run` would start with, as a config file, each with where
/// it came from.
pub(crate) fn render(cli: &Command, matches: &ArgMatches, file: Option<&ConfigFile>) -> String {
    let run_command = cli
        .find_subcommand("run")
        .expect("the command line has `run`");
    let Some(("run", run)) = matches.subcommand() else {
        return String::new();
    };
    let mut lines = vec![
        "# The options `ledger-node run` would start with, and where each came from".to_owned(),
        "# (command line > LEDGER_* environment > config file > default).".to_owned(),
    ];
    if let Some(file) = file {
        lines.push(format!("# config file: {}", file.path.display()));
    }
    let mut args: Vec<&clap::Arg> = run_command.get_arguments().collect();
    if let Some(file) = file {
        let place = |arg: &&clap::Arg| {
            let long = arg.get_long().unwrap_or_default();
            file.order.iter().position(|known| known == long)
        };
        args.sort_by_key(place);
    }
    for arg in args {
        let Some(long) = arg.get_long() else { continue };
        if NOT_SETTINGS.contains(&long) {
            continue;
        }
        let id = arg.get_id().as_str();
        let values: Vec<String> = run
            .get_raw(id)
            .map(|raw| {
                raw.map(|value| value.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let source = match run.value_source(id) {
            Some(ValueSource::CommandLine) => "command line".to_owned(),
            Some(ValueSource::EnvVariable) => format!("environment {}", env_name(long)),
            Some(ValueSource::DefaultValue) if file.is_some_and(|file| file.sets(long)) => {
                "config file".to_owned()
            }
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => "not set".to_owned(),
        };
        let value = match values.as_slice() {
            [] => {
                let help = arg
                    .get_help()
                    .map(|help| help.to_string())
                    .unwrap_or_default();
                let first = help
                    .split(". ")
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('.');
                lines.push(format!("# {long} = …  # {source}: {first}"));
                continue;
            }
            [one] if arg.get_value_delimiter().is_none() => toml_value(one),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|value| toml_value(value))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        lines.push(format!("{long} = {value}  # {source}"));
    }
    lines.join("\n")
}

/// `text` as a TOML value: a number or boolean as such, else a string.
fn toml_value(text: &str) -> String {
    let number = text.parse::<i64>().is_ok() && !text.starts_with('+');
    if number || text == "true" || text == "false" {
        text.to_owned()
    } else {
        toml::Value::String(text.to_owned()).to_string()
    }
}

/// The command line, with `--config`'s file read and applied.
pub(crate) enum Parsed {
    /// Go on with these.
    Matches(Box<(Command, ArgMatches, Option<ConfigFile>)>),
    /// clap's own ending (help, version, a usage error).
    Clap(clap::Error),
}

/// Reads `args` against `cli` (with `run`'s environment variables), then
/// again with `--config`'s file as defaults if one is named.
pub(crate) fn parse(cli: Command, args: Vec<OsString>) -> anyhow::Result<Parsed> {
    let cli = with_run_env(cli);
    let matches = match cli.clone().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(error) => return Ok(Parsed::Clap(error)),
    };
    let Some(path) = config_path(&matches) else {
        return Ok(Parsed::Matches(Box::new((cli, matches, None))));
    };
    let run = cli
        .find_subcommand("run")
        .expect("the command line has `run`");
    let file = ConfigFile::read(&path, run)?;
    let cli = file.apply(cli);
    match cli.clone().try_get_matches_from(&args) {
        Ok(matches) => Ok(Parsed::Matches(Box::new((cli, matches, Some(file))))),
        Err(error) => Ok(Parsed::Clap(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_become_environment_names() {
        assert_eq!(env_name("data-dir"), "LEDGER_DATA_DIR");
        assert_eq!(env_name("ws"), "LEDGER_WS");
    }

    #[test]
    fn toml_values_keep_their_kind() {
        assert_eq!(toml_value("100"), "100");
        assert_eq!(toml_value("true"), "true");
        assert_eq!(toml_value("./ledger-data"), "\"./ledger-data\"");
        assert_eq!(toml_value("127.0.0.1:50051"), "\"127.0.0.1:50051\"");
    }
}
