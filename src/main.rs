use std::process::ExitCode;

use clap::Parser;

use tracecost::cli::{Cli, Command};
use tracecost::config::Settings;
use tracecost::{mirror, report, simulate, transform};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: what failed and, where we know it, what to do.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Mirror(args) => {
            let settings = Settings::resolve(&args)?;
            mirror::run(&settings)?;
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
            mirror::run(&settings)?;
            transform::run(&settings)?;
            report::run(&settings)?;
        }
        Command::Simulate(args) => simulate::run(&args)?,
    }
    Ok(())
}
