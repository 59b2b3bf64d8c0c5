fn main() -> std::process::ExitCode {
    // Before any thread or tensor exists: process-wide memory settings.
    overhear::util::limit_malloc_arenas();
    overhear::classifier::limit_kernel_cache();
    // the API serves hundreds of connections: room for them beside sled's files
    let _ = overhear::util::raise_open_files_limit();
    overhear::cli::main()
}
