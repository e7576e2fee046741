# find_package(pyro_async CONFIG) -> target pyro_async::pyro_async (shared library)
# and pyro_async::pyro_async_static.
get_filename_component(_pyro_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET pyro_async::pyro_async)
  add_library(pyro_async::pyro_async SHARED IMPORTED)
  set_target_properties(pyro_async::pyro_async PROPERTIES
    IMPORTED_LOCATION "${_pyro_prefix}/lib/libpyro_async.so.0.1.0"
    IMPORTED_SONAME "libpyro_async.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_pyro_prefix}/include")
  add_library(pyro_async::pyro_async_static STATIC IMPORTED)
  set_target_properties(pyro_async::pyro_async_static PROPERTIES
    IMPORTED_LOCATION "${_pyro_prefix}/lib/libpyro_async.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_pyro_prefix}/include"
    INTERFACE_LINK_LIBRARIES "pthread;dl;m")
endif()
unset(_pyro_prefix)
