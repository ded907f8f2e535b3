pub fn run(_a: &crate::cli::SimulateArgs) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
