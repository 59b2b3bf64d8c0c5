//! The model classifies inside the sandbox the systemd unit and hardened hosts use:
//! the real `overhear classify` binary exec'd after `prctl(PR_SET_MDWE,
//! PR_MDWE_REFUSE_EXEC_GAIN)` (what `MemoryDenyWriteExecute=yes` sets on current
//! kernels). On CPUs with AVX512-BF16 or AMX, `precision = "auto"` picks bf16, whose
//! oneDNN kernels are generated at run time and refused there: the classifier must
//! notice at load and compute in f32, never fail batch after batch. On CPUs without
//! them (AVX2 only) bf16 is emulated without generated code, and this test proves
//! only that the binary classifies under the setting; it says which case ran.

mod skip_support;

use std::process::Command;

const WRAPPER: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.stderr.write("prctl(PR_SET_MDWE) failed: errno %d\n" % ctypes.get_errno())
    sys.exit(97)
os.execv(sys.argv[1], sys.argv[1:])
"#;

fn native_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.contains(" avx512_bf16") || c.contains(" amx_bf16"))
        .unwrap_or(false)
}

#[test]
fn classify_works_under_memory_deny_write_execute_at_every_precision() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("mdwe.py");
    std::fs::write(&wrapper, WRAPPER).unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    if native_bf16() {
        eprintln!("this CPU computes bf16 natively: the f32 fallback is exercised");
    } else {
        skip_support::note(
            "this CPU has no AVX512-BF16 or AMX: the bf16-to-f32 fallback is not exercised, only classifying under PR_SET_MDWE",
        );
    }
    for precision in ["auto", "bf16", "f32"] {
        let out = Command::new("python3")
            .arg(&wrapper)
            .arg(env!("CARGO_BIN_EXE_overhear"))
            .args(["classify", "--json", "--precision", precision, "--model"])
            .arg(&model)
            .arg("this is terrible, I am still waiting for my refund")
            .output()
            .expect("python3 runs the PR_SET_MDWE wrapper");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(97),
            "the kernel refused PR_SET_MDWE (Linux 6.3 or later is needed): {err}"
        );
        assert!(out.status.success(), "--precision {precision}: {err}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["label"], "negative", "--precision {precision}: {v}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
