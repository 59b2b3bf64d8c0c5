use std::path::Path;

fn main() {
    for var in ["LIBTORCH", "LIBTORCH_USE_PYTORCH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        return; // torch-sys asks the Python environment's torch for its paths
    }
    let Some(dir) = std::env::var_os("LIBTORCH") else {
        fail("LIBTORCH is not set (.cargo/config.toml normally sets it to .libtorch/cpu)");
    };
    let dir = Path::new(&dir);
    println!("cargo:rerun-if-changed={}", dir.join("lib").display());
    let has_lib = ["libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll"]
        .iter()
        .any(|name| dir.join("lib").join(name).exists());
    if !has_lib || !dir.join("include").exists() {
        fail(&format!(
            "libtorch 2.4.0 was not found at {} (no lib/libtorch_cpu.so or include/)",
            dir.display()
        ));
    }
}

fn fail(what: &str) -> ! {
    eprintln!(
        "\n\nerror: {what}.\n\
         \n  Run `scripts/libtorch.sh` (or `make setup`) once: it installs libtorch 2.4.0 from the\
         \n  PyPI wheel torch==2.4.0 into .libtorch/ without any other download.\
         \n  If torch-sys left an empty libtorch folder behind, also run `cargo clean -p torch-sys`.\n"
    );
    std::process::exit(1);
}
