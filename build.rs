// The shared library gets a versioned soname (libpyro_async.so.MAJOR) only when the
// build that will also create that file name asks for it: CMake sets PYRO_ASYNC_SONAME
// and installs libpyro_async.so.X.Y.Z with its .so.MAJOR and .so symlinks. Cargo cannot
// create the symlink, so a plain `cargo build` leaves the soname out: programs linked
// with -lpyro_async then record libpyro_async.so, the file cargo does write, and run.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PYRO_ASYNC_SONAME");
    let Some(soname) = std::env::var_os("PYRO_ASYNC_SONAME") else {
        return;
    };
    let soname = soname.to_str().unwrap_or_default().to_owned();
    // It ends up inside -Wl,-soname,NAME: a comma or a path would silently change the link.
    let plain = !soname.is_empty()
        && soname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if !plain {
        panic!("PYRO_ASYNC_SONAME must be a plain file name such as libpyro_async.so.0, got {soname:?}");
    }
    // ELF targets whose linkers take -soname; elsewhere (macOS install names, Windows DLLs)
    // the variable has no meaning.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}
