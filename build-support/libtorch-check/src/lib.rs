//! Empty on purpose: this crate exists for its build script, which checks that
//! libtorch is where `.cargo/config.toml` says before torch-sys tries to use it.
