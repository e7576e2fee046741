# cmake -P script, run after each cargo build: lays out the libraries in STAGE_DIR as they
# will be installed, so the in-tree programs (tests, examples, a parent project's targets)
# run against exactly what `cmake --install` copies:
#   libpyro_async.so.X.Y.Z  (soname libpyro_async.so.X)
#   libpyro_async.so.X -> libpyro_async.so.X.Y.Z
#   libpyro_async.so   -> libpyro_async.so.X
#   libpyro_async.a
#   libpyro_async.so.X.Y.Z.debug  (SPLIT_DEBUG only; found by gdb/valgrind via .gnu_debuglink)
# Inputs: CARGO_OUT_DIR STAGE_DIR REALNAME SONAME SPLIT_DEBUG OBJCOPY
foreach(v CARGO_OUT_DIR STAGE_DIR REALNAME SONAME)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "pyro_async_stage.cmake: ${v} not set")
  endif()
endforeach()

file(MAKE_DIRECTORY "${STAGE_DIR}")
set(_so "${CARGO_OUT_DIR}/libpyro_async.so")
set(_a "${CARGO_OUT_DIR}/libpyro_async.a")
set(_real "${STAGE_DIR}/${REALNAME}")
set(_debug "${_real}.debug")

function(_run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pyro_async: '${ARGN}' failed (${rc}): ${err}")
  endif()
endfunction()

# Each output is written under a temporary name and renamed, so an interrupted build
# never leaves a half-written library that looks up to date.
if(SPLIT_DEBUG AND OBJCOPY)
  # dh_strip's recipe: symbols and debug info to the .debug file, the library keeps only
  # what linking and unwinding need. The archive keeps its symbols (it must still link).
  _run("${OBJCOPY}" --only-keep-debug "${_so}" "${_debug}.tmp")
  file(RENAME "${_debug}.tmp" "${_debug}")
  # The debuglink records only the file name and a CRC: the .debug file is found next to
  # the library wherever both are installed.
  _run("${OBJCOPY}" --strip-unneeded --remove-section=.comment
    "--add-gnu-debuglink=${_debug}" "${_so}" "${_real}.tmp")
  _run("${OBJCOPY}" --strip-debug "${_a}" "${STAGE_DIR}/libpyro_async.a.tmp")
else()
  if(SPLIT_DEBUG)
    message(WARNING "pyro_async: no objcopy found, the libraries are installed with their debug info")
  endif()
  file(REMOVE "${_debug}")
  configure_file("${_so}" "${_real}.tmp" COPYONLY)
  configure_file("${_a}" "${STAGE_DIR}/libpyro_async.a.tmp" COPYONLY)
endif()
file(RENAME "${_real}.tmp" "${_real}")
file(RENAME "${STAGE_DIR}/libpyro_async.a.tmp" "${STAGE_DIR}/libpyro_async.a")

file(CREATE_LINK "${REALNAME}" "${STAGE_DIR}/${SONAME}" SYMBOLIC)
file(CREATE_LINK "${SONAME}" "${STAGE_DIR}/libpyro_async.so" SYMBOLIC)
