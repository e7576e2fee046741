# Runs at install time (install(CODE) includes it), because only then is the prefix
# known for sure: `cmake --install --prefix P` replaces the configured one. The paths are
# absolute, as pkg-config expects (it drops -I/usr/include and the like only when it sees
# them literally); staged installs are read with PKG_CONFIG_SYSROOT_DIR=$DESTDIR.
# Inputs: PYRO_PC_TEMPLATE PYRO_PC_OUT PYRO_PC_LIBDIR PYRO_PC_INCLUDEDIR
#         PYRO_PC_LIBS_PRIVATE PROJECT_VERSION PROJECT_DESCRIPTION
set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(kind LIBDIR INCLUDEDIR)
  set(dir "${PYRO_PC_${kind}}")
  if(IS_ABSOLUTE "${dir}")
    # An absolute libdir under the prefix is still written relative to ${prefix}, so
    # pkg-config --define-prefix / --define-variable=prefix= can relocate it.
    string(FIND "${dir}/" "${PC_PREFIX}/" at)
    if(at EQUAL 0 AND NOT PC_PREFIX STREQUAL "/")
      string(LENGTH "${PC_PREFIX}" n)
      string(SUBSTRING "${dir}" ${n} -1 rest)
      set(PC_${kind} "\${prefix}${rest}")
    else()
      set(PC_${kind} "${dir}")
    endif()
  else()
    set(PC_${kind} "\${prefix}/${dir}")
  endif()
endforeach()
set(PC_LIBS_PRIVATE "${PYRO_PC_LIBS_PRIVATE}")
configure_file("${PYRO_PC_TEMPLATE}" "${PYRO_PC_OUT}" @ONLY)
if(IS_ABSOLUTE "${PYRO_PC_LIBDIR}")
  set(dest "${PYRO_PC_LIBDIR}/pkgconfig")
else()
  set(dest "${CMAKE_INSTALL_PREFIX}/${PYRO_PC_LIBDIR}/pkgconfig")
endif()
# file(INSTALL) is what install() rules run: it honours DESTDIR and records the file in
# install_manifest.txt.
file(INSTALL DESTINATION "${dest}" TYPE FILE FILES "${PYRO_PC_OUT}")
