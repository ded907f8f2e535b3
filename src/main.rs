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
                Some(dialect) => {
                    let sql =
                        transform::sql::emit(&settings.transform, dialect, args.events_table())?;
                    print_all(&sql)?;
                }
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
            let published = publish::run(&Settings::publish(&args)?)?;
            if published.is_empty() {
                println!("nothing to publish: the lake holds no events in the window and the transform no tables");
            }
            for t in published {
                println!(
                    "{}: {} file(s) added ({} rows), {} removed, {} already there",
                    t.table,
                    t.added_files,
                    tracecost::core::numbers::thousands(t.added_rows),
                    t.removed_files,
                    t.kept_files
                );
            }
        }
        Command::Explore(args) => explore::run(&Settings::explore(&args)?)?,
        Command::Drive(args) => drive::run(&Settings::drive(&args)?)?,
        Command::Simulate(args) => simulate::run(&args.options())?,
    }
    Ok(())
}

/// Writes `text` to stdout; a reader that closed the pipe (`| head`) wanted no more.
fn print_all(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

fn mirror_step(args: &StepArgs, settings: &Settings) -> anyhow::Result<()> {
    match wait_options(args, &settings.transform.rules)? {
        Some(wait) => mirror::wait::run(&settings.mirror, &wait),
        None => mirror::run(&settings.mirror).map(drop),
    }
}
