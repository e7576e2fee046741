// Give the shared library a proper soname (major version), so programs linked against
// libpyro_async.so.0 keep working across compatible updates.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpyro_async.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
