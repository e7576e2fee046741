file(REMOVE_RECURSE
  "/work/main/target/release/libpyro_async.a"
  "/work/main/target/release/libpyro_async.so"
  "/work/main/target/release/libpyro_async.so.0"
  "CMakeFiles/pyro_async_rust"
)

# Per-language clean rules from dependency scanning.
foreach(lang )
  include(CMakeFiles/pyro_async_rust.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
