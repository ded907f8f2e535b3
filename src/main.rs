use std::process::ExitCode;

use clap::Parser;

use tracecost::cli::{Cli, Command};
use tracecost::settings::Settings;
use tracecost::{mirror, report, simulate, transform};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: what failed and, where we know it, what to do.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {}", tracecost::core::terminal::printable(&message));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Mirror(args) => mirror_step(&Settings::resolve(&args)?)?,
        Command::Transform(args) => {
            transform::run(&Settings::resolve(&args)?.transform)?;
        }
        Command::Report(args) => {
            report::run(&Settings::resolve(&args)?.report)?;
        }
        Command::Run(args) => {
            let settings = Settings::resolve(&args)?;
            mirror_step(&settings)?;
            transform::run(&settings.transform)?;
            report::run(&settings.report)?;
        }
        Command::Simulate(args) => simulate::run(&args.options())?,
    }
    Ok(())
}

fn mirror_step(settings: &Settings) -> anyhow::Result<()> {
    match &settings.wait {
        Some(wait) => mirror::wait::run(&settings.mirror, wait),
        None => mirror::run(&settings.mirror).map(drop),
    }
}
