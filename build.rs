//! Bakes an rpath to libtorch's real folder into every binary, test and bench, so
//! they run without LD_LIBRARY_PATH. torch-sys (links = "tch") exports the folder it
//! linked against as DEP_TCH_LIBTORCH_LIB.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = PathBuf::from(lib);
    // .libtorch/cpu/lib holds links into the wheel. Point the rpath at the folder they
    // resolve to: libtorch_cpu.so finds its own neighbours (libgomp, libcudart) through
    // $ORIGIN, which is the folder it was loaded from.
    let dir = std::fs::canonicalize(lib.join("libtorch_cpu.so"))
        .ok()
        .and_then(|real| real.parent().map(PathBuf::from))
        .unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
}
