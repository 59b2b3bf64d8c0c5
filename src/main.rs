fn main() -> std::process::ExitCode {
    // Before any thread or tensor exists: process-wide memory settings.
    overhear::util::limit_malloc_arenas();
    overhear::classifier::limit_kernel_cache();
    overhear::cli::main()
}
