fn main() -> std::process::ExitCode {
    overhear::cli::main()
}
