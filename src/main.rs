use std::process::ExitCode;

use clap::Parser;

use tracecost::cli::{Cli, Command};
use tracecost::settings::{refuse_wait, wait_options, Settings, StepArgs};
use tracecost::{drive, explore, mirror, publish, report, simulate, transform};

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
        Command::Mirror(args) => mirror_step(&args, &Settings::resolve(&args)?)?,
        Command::Transform(args) => {
            refuse_wait(&args.step)?;
            let settings = Settings::resolve(&args.step)?;
            settings.require_pipeline("transform")?;
            match args.emit_sql {
                Some(dialect) => print!(
                    "{}",
                    transform::sql::emit(&settings.transform, dialect, args.events_table())?
                ),
                None => drop(transform::run(&settings.transform)?),
            }
        }
        Command::Report(args) => {
            refuse_wait(&args.step)?;
            let settings = Settings::report(&args)?;
            settings.require_pipeline("report")?;
            report::run(&settings.report)?;
        }
        Command::Run(args) => {
            let settings = Settings::resolve(&args)?;
            settings.require_pipeline("run")?;
            mirror_step(&args, &settings)?;
            transform::run(&settings.transform)?;
            report::run(&settings.report)?;
        }
        Command::Publish(args) => {
            refuse_wait(&args.step)?;
            for t in publish::run(&Settings::publish(&args)?)? {
                println!(
                    "{}: {} file(s) added ({} rows), {} removed, {} already there",
                    t.table, t.added_files, t.added_rows, t.removed_files, t.kept_files
                );
            }
        }
        Command::Explore(args) => explore::run(&Settings::explore(&args)?)?,
        Command::Drive(args) => drive::run(&Settings::drive(&args)?)?,
        Command::Simulate(args) => simulate::run(&args.options())?,
    }
    Ok(())
}

fn mirror_step(args: &StepArgs, settings: &Settings) -> anyhow::Result<()> {
    match wait_options(args, &settings.transform.rules)? {
        Some(wait) => mirror::wait::run(&settings.mirror, &wait),
        None => mirror::run(&settings.mirror).map(drop),
    }
}
