use std::process::ExitCode;

use clap::Parser;

use tracecost::cli::{Cli, Command, StepArgs};
use tracecost::config::Settings;
use tracecost::{mirror, report, simulate, transform};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: what failed and, where we know it, what to do.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {}", tracecost::terminal::printable(&message));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Mirror(args) => {
            let settings = Settings::resolve(&args)?;
            mirror_step(&settings, &args)?;
        }
        Command::Transform(args) => {
            let settings = Settings::resolve(&args)?;
            transform::run(&settings)?;
        }
        Command::Report(args) => {
            let settings = Settings::resolve(&args)?;
            report::run(&settings)?;
        }
        Command::Run(args) => {
            let settings = Settings::resolve(&args)?;
            mirror_step(&settings, &args)?;
            transform::run(&settings)?;
            report::run(&settings)?;
        }
        Command::Simulate(args) => simulate::run(&args.options())?,
    }
    Ok(())
}

fn mirror_step(settings: &Settings, args: &StepArgs) -> anyhow::Result<()> {
    if !args.wait {
        if args.until.is_some() || args.events.is_some() {
            anyhow::bail!("--until and --events only apply with --wait");
        }
        mirror::run(settings)?;
        return Ok(());
    }
    let options = mirror::wait::WaitOptions {
        goal: mirror::wait::Goal::from_settings(settings, args.until.as_deref(), args.events)?,
        every: mirror::wait::parse_every(&args.every)?,
        timeout: mirror::wait::parse_duration(&args.timeout)
            .map_err(|e| anyhow::anyhow!("--timeout: {e}"))?,
    };
    mirror::wait::run(settings, &options)
}
